"""The safety-plan task: a suicide-risk alert opens it, the Safety tab shows it until completed (every section
required, values kept on error), completing is audited, and the plan prints and exports as a FHIR CarePlan."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.surveillance import safetyplan
from ketaclinic.web.surveillance.models import SafetyPlan

pytestmark = pytest.mark.django_db

PLAN = {
    "warning_signs": "Not sleeping, staying in my room",
    "internal_coping": "Walk the dog, music",
    "social_distraction": "Cafe on Main Street, my cousin Sam",
    "help_contacts": "Sister Jo 555-0101",
    "professional_contacts": "Dr Patel 555-0199; 988 Suicide and Crisis Lifeline",
    "means_safety": "Medicines kept by my sister",
    "reasons_for_living": "My daughter",
}


def _phq9(nurse: Any, patient: Any, item9: int) -> None:
    do_record_assessment(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", answers=[1] * 8 + [item9], context="follow_up",
        assessed_at=timezone.now() - dt.timedelta(minutes=1),
    )  # fmt: skip


def test_alert_opens_one_task_and_no_alert_none(nurse: Any, patient: Any) -> None:
    _phq9(nurse, patient, 0)
    assert SafetyPlan.objects.count() == 0
    _phq9(nurse, patient, 2)
    plan = SafetyPlan.objects.get()
    assert (plan.patient_id, plan.completed_at, plan.suicide_alert.patient_id) == (
        patient.pk,
        None,
        patient.pk,
    )
    assert AuditEvent.objects.filter(action="safety_plan.open", patient=patient).count() == 1
    _phq9(nurse, patient, 1)  # a second alert: the open task stays the one task
    assert SafetyPlan.objects.count() == 1


def test_complete_needs_every_section_and_is_audited(
    nurse: Any, prescriber: Any, front_desk: Any, patient: Any
) -> None:
    _phq9(nurse, patient, 1)
    plan = SafetyPlan.objects.get()
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        safetyplan.do_complete_safety_plan(
            actor=prescriber,
            plan_id=plan.pk,
            fields={**PLAN, "reasons_for_living": " ", "means_safety": "x" * 2001},
        )
    assert exc.value.fields == {
        "means_safety": ["must be at most 2000 characters"],
        "reasons_for_living": ["write the reasons for living with the patient"],
    }
    with pytest.raises(PermissionDeniedError):
        safetyplan.do_complete_safety_plan(actor=front_desk, plan_id=plan.pk, fields=PLAN)
    plan.refresh_from_db()
    assert (plan.completed_at, plan.warning_signs, AuditEvent.objects.count()) == (None, "", before)

    done = safetyplan.do_complete_safety_plan(actor=prescriber, plan_id=plan.pk, fields=PLAN)
    assert done.completed_by == prescriber and done.reasons_for_living == "My daughter"
    ev = AuditEvent.objects.get(action="safety_plan.complete")
    assert ev.detail == {"sections": {k: len(v) for k, v in PLAN.items()}}
    with pytest.raises(ConflictError):
        safetyplan.do_complete_safety_plan(actor=prescriber, plan_id=plan.pk, fields=PLAN)


def test_safety_tab_form_keeps_values_then_prints_and_exports(
    nurse: Any, prescriber: Any, patient: Any, client_as: Any
) -> None:
    _phq9(nurse, patient, 1)
    plan = SafetyPlan.objects.get()
    c = client_as(prescriber)
    tab = c.get(f"/safety/patient/{patient.pk}/").content.decode()
    assert f'data-safety-plan="{plan.pk}" data-completed="0"' in tab
    assert "7. Reasons for living" in tab

    url = f"/safety/patient/{patient.pk}/safety-plans/{plan.pk}/complete/"
    bad = c.post(url, {**PLAN, "warning_signs": ""})
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "Warning signs: write the warning signs with the patient" in body
    assert ">Walk the dog, music</textarea>" in body
    assert SafetyPlan.objects.get().completed_at is None

    ok = c.post(url, PLAN)
    assert ok.status_code == 302
    tab = c.get(f"/safety/patient/{patient.pk}/").content.decode()
    assert 'data-completed="1"' in tab and "Print the plan" in tab

    printed = c.get(f"/safety/patient/{patient.pk}/safety-plans/{plan.pk}/print/").content.decode()
    for text in PLAN.values():
        assert text in printed
    assert "People and social settings that provide distraction" in printed
    assert AuditEvent.objects.filter(action="safety_plan.print").count() == 1

    bundle = json.loads(c.get(f"/safety/patient/{patient.pk}/fhir/").content)
    plans = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    assert len(plans) == 1
    assert validate_resource(plans[0]) == []
    assert plans[0]["status"] == "completed"
    assert [n["text"] for n in plans[0]["note"]] == [
        "Warning signs: Not sleeping, staying in my room",
        "Internal coping strategies: Walk the dog, music",
        "People and social settings that provide distraction: Cafe on Main Street, my cousin Sam",
        "People to ask for help: Sister Jo 555-0101",
        "Professionals and agencies to contact in a crisis, crisis lines included: "
        "Dr Patel 555-0199; 988 Suicide and Crisis Lifeline",
        "Making the environment safe: Medicines kept by my sister",
        "Reasons for living: My daughter",
    ]


def test_other_clinic_cannot_complete_or_print(
    nurse: Any, patient: Any, make_user: Any, other_clinic: Any, client_as: Any
) -> None:
    _phq9(nurse, patient, 1)
    plan = SafetyPlan.objects.get()
    outsider = client_as(make_user("prescriber", clinic=other_clinic))
    assert (
        outsider.post(f"/safety/patient/{patient.pk}/safety-plans/{plan.pk}/complete/", PLAN).status_code
        == 404
    )
    assert outsider.get(f"/safety/patient/{patient.pk}/safety-plans/{plan.pk}/print/").status_code == 404
    assert SafetyPlan.objects.get().completed_at is None
