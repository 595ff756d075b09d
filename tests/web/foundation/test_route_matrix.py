"""The role x route matrix: every route of the site and the API (from the URL resolver, which holds the ninja
API's routes too) has a decision, so a new route without one fails here; and every read route whose address needs
only a patient, session, course, site or clinic is requested by each role and answers as the table says.

Allowed means an answer other than 401, 403, 404 or 405 (a 400 for a missing query parameter counts: the role got
past the permission check); refused means 403 or 404. Routes that name another record (an alert, a note, a form,
a case...) reach it through its access function (tests/web/foundation/test_access.py and the access lint cover
those); they are listed in NOT_PROBED with the parameter the probe cannot fill."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from ketaclinic.core.protocols import get_protocol
from ketaclinic.web.accounts.models import User
from ketaclinic.web.accounts.roles import Role
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

ALL = frozenset(r.value for r in Role)
CLINICAL = frozenset({"prescriber", "nurse", "auditor", "therapist"})
DEMOGRAPHIC = CLINICAL | {"front_desk", "clinic_admin"}
LEDGER = frozenset({"prescriber", "custodian", "auditor"})
ADMIN = frozenset({"clinic_admin"})
DEVICES = frozenset({"nurse", "clinic_admin"})
REGISTRARS = frozenset({"prescriber", "nurse", "front_desk"})
RECORDERS = frozenset({"prescriber", "nurse"})
AUDITORS = frozenset({"auditor", "clinic_admin"})
OUTCOMES = frozenset({"prescriber", "auditor", "clinic_admin", "researcher"})

# Read routes (GET): the roles that may read each, in a clinic that grants no extra clinical reads.
READ: dict[str, frozenset[str]] = {
    "home": ALL,
    "healthz": ALL,
    "api-index": ALL,
    "api-v1:openapi-json": ALL,
    "api-v1:openapi-view": ALL,
    "api-v1:list_patients": ALL,
    "api-v1:get_patient": DEMOGRAPHIC,
    "api-v1:patient_history": DEMOGRAPHIC,
    "api-v1:list_weights": CLINICAL,
    "api-v1:patient_fhir": DEMOGRAPHIC,
    "api-v1:list_assessments": CLINICAL,
    "api-v1:latest_result": CLINICAL,
    "api-v1:get_session": CLINICAL,
    "api-v1:list_vitals": CLINICAL,
    "api-v1:session_fhir": CLINICAL,
    "api-v1:vitals_fhir": CLINICAL,
    "api-v1:list_devices": DEVICES,
    "api-v1:board": CLINICAL,
    "api-v1:site_alerts": CLINICAL,
    "api-v1:sensor_vitals": CLINICAL,
    "api-v1:balances": LEDGER,
    "api-v1:entries": LEDGER,
    "api-v1:verify": LEDGER,
    "api-v1:patient_surveillance": CLINICAL,
    "api-v1:outcomes_fhir_export": ALL,
    "api-v1:list_staff": ADMIN,
    "accounts:login": ALL,
    "accounts:two_factor": ALL,
    "accounts:account": ALL,
    "clinics:settings": ADMIN,
    "clinics:grants": ADMIN,
    "favicon": ALL,
    "clinics:staff": ADMIN,
    "patients:list": ALL,
    "patients:create": REGISTRARS,
    "patients:chart": DEMOGRAPHIC,
    "patients:edit": REGISTRARS,
    "patients:history": DEMOGRAPHIC,
    "patients:fhir": DEMOGRAPHIC,
    "audit:list": AUDITORS,
    "assessments:chart_tab": CLINICAL,
    "assessments:new": RECORDERS,
    "screening:chart_tab": CLINICAL,
    "treatment:chart_tab": CLINICAL,
    "treatment:session": CLINICAL,
    "treatment:session_flowsheet": CLINICAL,
    "treatment:board": CLINICAL,
    "treatment:protocols": ADMIN,
    "treatment:rems_dashboard": CLINICAL,
    "monitoring:board": CLINICAL,
    "monitoring:site_board": CLINICAL,
    "monitoring:devices": DEVICES,
    "ledger:dashboard": LEDGER,
    "ledger:entries": LEDGER,
    "ledger:verify": LEDGER,
    "ledger:setup": LEDGER,
    "ledger:register": LEDGER,
    "ledger:inventory": LEDGER,
    "decision:pk_curve": CLINICAL,
    "telehealth:chart_tab": CLINICAL,
    "telehealth:clinic_settings": ADMIN,
    "therapy:chart_tab": CLINICAL,
    "therapy:export": CLINICAL,
    "surveillance:clinic": CLINICAL,
    "surveillance:settings": ADMIN,
    "surveillance:chart_tab": CLINICAL,
    "surveillance:fhir": CLINICAL,
    "pain:clinic": CLINICAL,
    "pain:chart_tab": CLINICAL,
    "outcomes:page": OUTCOMES,
    "outcomes:summary_pdf": OUTCOMES,
    "outcomes:progress_pdf": CLINICAL,
    "outcomes:exports": OUTCOMES,
    "careplan:chart_tab": CLINICAL,
    "home:alerts": CLINICAL,
}

# Write-only routes: their permission is the action's (each app's tests hold the refusals).
WRITE = frozenset(
    {
        "api-v1:create_patient",
        "api-v1:update_patient",
        "api-v1:add_weight",
        "api-v1:create_assessment",
        "api-v1:import_bundle",
        "api-v1:review",
        "api-v1:cosign",
        "api-v1:consent",
        "api-v1:post_vitals",
        "api-v1:ingest",
        "api-v1:register_device",
        "api-v1:rotate_token",
        "api-v1:revoke_device",
        "api-v1:attach_device",
        "api-v1:detach_device",
        "api-v1:acknowledge",
        "api-v1:transfer",
        "api-v1:count",
        "api-v1:create_lab",
        "api-v1:import_labs",
        "api-v1:outcomes_research_extract",
        "api-v1:export_cancel",
        "api-v1:invite",
        "api-v1:change_own_password",
        "api-v1:create_token",
        "api-v1:grant_role",
        "api-v1:approve_grant",
        "api-v1:revoke_grant",
        "api-v1:deactivate",
        "api-v1:reactivate",
        "api-v1:reset_password",
        "api-v1:revoke_tokens",
        "accounts:logout",
        "accounts:switch_clinic",
        "assessments:create_link",
        "assessments:create_schedule",
        "screening:import",
        "screening:add_condition",
        "screening:add_medication",
        "screening:add_allergy",
        "screening:add_vitals",
        "screening:rerun",
        "screening:consent",
        "treatment:course_start",
        "treatment:order_sign",
        "telehealth:schedule",
        "telehealth:consent",
        "therapy:record_session",
        "therapy:authorise",
        "surveillance:record_lab",
        "surveillance:import_labs",
        "surveillance:decide",
        "surveillance:end_course",
        "pain:add_medication",
        "pain:overdose_history",
        "pain:naloxone_offer",
        "pain:set_indication",
        "pain:last_dose",
        "careplan:create",
        "patientprep:create_link",
        "patients:record_weight",
        "patients:add_care_team",
    }
)

# Routes for devices or for a token given to a patient, and the API root (no page of its own).
NOT_FOR_STAFF = frozenset({"api-v1:device_me", "api-v1:api-root"})

# Routes naming a record the probe does not create: the parameter it cannot fill.
NOT_PROBED: dict[str, str] = {
    "api-v1:assessment_fhir": "assessment_id",
    "api-v1:questionnaire": "instrument_id",
    "api-v1:outcomes_export_status": "job_id",
    "api-v1:outcomes_export_file": "job_id,name",
    "accounts:set_password": "token",
    "assessments:revoke_link": "link_id",
    "assessments:stop_schedule": "schedule_id",
    "assessments:ack_alert": "alert_id",
    "assessments:remote": "token",
    "screening:withdraw_item": "item_id",
    "screening:review": "run_id",
    "screening:cosign": "review_id",
    "treatment:session_step": "step",
    "treatment:rems_pdf": "form_id",
    "treatment:rems_submit": "form_id",
    "monitoring:acknowledge": "alert_id",
    "ledger:record": "kind",
    "ledger:case": "case_id",
    "telehealth:close": "visit_id",
    "telehealth:withdraw_consent": "consent_id",
    "therapy:revoke": "authorisation_id",
    "therapy:note": "note_id",
    "therapy:share_note": "note_id",
    "surveillance:close_task": "followup_id",
    "surveillance:complete_safety_plan": "plan_id",
    "surveillance:print_safety_plan": "plan_id",
    "pain:change_dose": "medication_id",
    "pain:stop_medication": "medication_id",
    "outcomes:export_status": "job_id",
    "careplan:add_goal": "plan_id",
    "careplan:add_activity": "plan_id",
    "careplan:set_status": "plan_id,item,item_id",
    "careplan:safety_plan": "plan_id",
    "careplan:export": "plan_id",
    "patientprep:page": "token",
    "patientprep:revoke_link": "link_id",
}


def routes() -> dict[str, str]:
    """{route name: its address pattern} for every named route of the site and the API."""
    out: dict[str, str] = {}

    def walk(resolver: Any, prefix: str, ns: str | None) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                inner = f"{ns}:{p.namespace}" if ns and p.namespace else p.namespace or ns
                walk(p, prefix + str(p.pattern), inner)
            elif p.name:
                out.setdefault(f"{ns}:{p.name}" if ns else p.name, prefix + str(p.pattern))

    walk(get_resolver(), "", None)
    return out


def test_every_route_has_exactly_one_decision() -> None:
    decided = [*READ, *WRITE, *NOT_FOR_STAFF, *NOT_PROBED]
    assert len(decided) == len(set(decided)), sorted({n for n in decided if decided.count(n) > 1})
    names = set(routes())
    assert sorted(names - set(decided)) == [], "a route without a decision: add it to the tables above"
    assert sorted(set(decided) - names) == [], "a decision for a route that no longer exists"
    assert all(set(roles) <= ALL for roles in READ.values())


@pytest.mark.slow
def test_each_role_reads_exactly_what_the_table_allows(
    make_user: Callable[..., User],
    clinic: Clinic,
    site: Site,
    patient: Patient,
    prescriber: User,
    client_as: Callable[[User], Client],
) -> None:
    protocol = get_protocol("iv-racemic-depression")
    course = TreatmentCourse.objects.create(
        clinic=clinic, patient=patient, protocol_id=protocol.id, protocol_version=protocol.version,
        protocol_snapshot=dict(protocol.raw), indication="TRD", started_by=prescriber, started_at=timezone.now(),
    )  # fmt: skip
    session = DosingSession.objects.create(
        clinic=clinic, site=site, patient=patient, course=course, scheduled_for=timezone.now()
    )
    fill = {"patient_id": patient.pk, "session_id": session.pk, "site_id": site.pk, "clinic_id": clinic.pk,
            "course_id": course.pk}  # fmt: skip
    patterns = routes()
    wrong = []
    for role in sorted(ALL):
        c = client_as(make_user(role, username=f"matrix-{role}"))
        c.raise_request_exception = False
        for name, allowed in READ.items():
            url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(fill[m.group(1)]), patterns[name])
            status = c.get(url).status_code
            ok = status not in (401, 403, 404, 405) and status < 500
            if ok != (role in allowed) or (not ok and status not in (403, 404)):
                wrong.append((name, role, status, "allowed" if role in allowed else "refused"))
    assert wrong == []
