"""Thin views: the chart's Care plan tab (goals with progress, activities, safety plan) and its FHIR CarePlan export."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.instruments import INSTRUMENT_IDS, load_instrument
from ketaclinic.web.access import access_care_plan_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.careplan import actions, selectors
from ketaclinic.web.careplan.fhir import care_plan_resource
from ketaclinic.web.careplan.models import CarePlan, CarePlanActivity, CarePlanGoal
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.patients.views import chart_context, load_patient

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

FIELD_LABELS = {
    "description": "Description",
    "instrument_id": "Scale",
    "target": "Target",
    "target_value": "Target score",
    "owner": "Owner",
    "due_on": "Due on",
    "kind": "Kind",
    "title": "Title",
}


def _date(raw: str, errors: dict[str, list[str]]) -> dt.date | None:
    if not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        errors["due_on"] = ["must be a date"]
        return None


def _render_tab(
    request: SignedInRequest,
    patient: Patient,
    *,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    from ketaclinic.web.telehealth.views import clinicians_of
    from ketaclinic.web.treatment.selectors import courses_for_patient

    ctx = chart_context(request, patient, "careplan")
    plans = {p.course_id: p for p in selectors.plans_for_patient(patient)}
    courses = []
    for c in courses_for_patient(patient).order_by("-started_at")[:10]:
        plan = plans.get(c.pk)
        entry: dict[str, Any] = {"course": c, "plan": plan}
        if plan is not None:
            dosing, therapy = selectors.plan_sessions(plan)
            entry.update(
                {
                    "progress": selectors.goal_progress(plan),
                    "activities": list(plan.activities.select_related("owner")),
                    "dosing": dosing,
                    "therapy": therapy,
                }
            )
        courses.append(entry)
    can_edit = has_perm_in_clinic(request.user, patient.clinic_id, Perm.COURSE_MANAGE) or has_perm_in_clinic(
        request.user, patient.clinic_id, Perm.THERAPY_RECORD
    )
    from ketaclinic.web.patientprep import selectors as prep
    from ketaclinic.web.treatment.selectors import sessions_for_patient

    labels = prep.prompt_labels()
    ctx.update(
        {
            "upcoming_sessions": list(
                sessions_for_patient(patient)
                .filter(first_dose_at__isnull=True)
                .exclude(status="cancelled")
                .order_by("scheduled_for")[:10]
            ),
            "session_links": list(prep.links_for_patient(patient)[:20]),
            "reflections": [
                {"r": r, "rows": [(labels.get(k, k), v) for k, v in r.answers.items()]}
                for r in prep.reflections_for_patient(patient)[:20]
            ],
            "can_link": has_perm_in_clinic(request.user, patient.clinic_id, Perm.ASSESSMENT_RECORD),
            "courses": courses,
            "can_edit": can_edit,
            "owners": [(u.pk, str(u)) for u in clinicians_of(patient.clinic)],
            "instruments": [("", "None")] + [(i, load_instrument(i).short_title) for i in INSTRUMENT_IDS],
            "targets": CarePlanGoal.Target.choices,
            "kinds": CarePlanActivity.Kind.choices,
            "error_rows": [(FIELD_LABELS.get(k, k), m) for k, msgs in (errors or {}).items() for m in msgs],
        }
    )
    return render(request, "careplan/chart_tab.html", ctx, status=status)


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _render_tab(request, load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW))


def _run(request: SignedInRequest, patient_id: int, call: Any, ok: str) -> HttpResponse:
    try:
        call()
    except ValidationFailed as exc:
        return _render_tab(
            request,
            load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False),
            errors=exc.fields,
            status=400,
        )
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, ok)
    return redirect("careplan:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def create(request: SignedInRequest, patient_id: int, course_id: int) -> HttpResponse:
    return _run(
        request,
        patient_id,
        lambda: actions.do_create_care_plan(
            actor=request.user, course_id=course_id, title=request.POST.get("title", ""), request=request
        ),
        "Care plan created.",
    )


def _owner_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


@login_required
@require_POST
def add_goal(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    p = request.POST
    errors: dict[str, list[str]] = {}
    due = _date(p.get("due_on", ""), errors)

    def call() -> Any:
        if errors:
            raise ValidationFailed(errors)
        return actions.do_add_goal(
            actor=request.user,
            plan_id=plan_id,
            description=p.get("description", ""),
            instrument_id=p.get("instrument_id", ""),
            target=p.get("target", ""),
            target_value=p.get("target_value") or None,
            owner_id=_owner_id(p.get("owner", "")),
            due_on=due,
            request=request,
        )

    return _run(request, patient_id, call, "Goal added.")


@login_required
@require_POST
def add_activity(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    p = request.POST
    errors: dict[str, list[str]] = {}
    due = _date(p.get("due_on", ""), errors)

    def call() -> Any:
        if errors:
            raise ValidationFailed(errors)
        return actions.do_add_activity(
            actor=request.user,
            plan_id=plan_id,
            kind=p.get("kind", ""),
            description=p.get("description", ""),
            owner_id=_owner_id(p.get("owner", "")),
            due_on=due,
            request=request,
        )

    return _run(request, patient_id, call, "Activity added.")


@login_required
@require_POST
def set_status(
    request: SignedInRequest, patient_id: int, plan_id: int, item: str, item_id: int
) -> HttpResponse:
    return _run(
        request,
        patient_id,
        lambda: actions.do_set_item_status(
            actor=request.user,
            plan_id=plan_id,
            item=item,
            item_id=item_id,
            status=request.POST.get("status", ""),
            request=request,
        ),
        "Saved.",
    )


@login_required
@require_POST
def safety_plan(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    fields = {k: request.POST.get(k, "") for k in actions.SAFETY_FIELDS}
    return _run(
        request,
        patient_id,
        lambda: actions.do_update_safety_plan(
            actor=request.user, plan_id=plan_id, fields=fields, request=request
        ),
        "Safety plan saved.",
    )


@login_required
def export(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    """The care plan as a FHIR R4 CarePlan (JSON), validated with fhir.resources' R4B models."""
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
    plan: CarePlan = access_care_plan_by_id(
        request.user, plan_id, patient=patient, request=request, audit_action=AuditAction.CAREPLAN_EXPORT
    )
    resource = care_plan_resource(plan)
    resp = HttpResponse(json.dumps(resource, indent=1), content_type="application/fhir+json")
    resp["Content-Disposition"] = f'attachment; filename="careplan-{plan.pk}.json"'
    return resp
