"""Care-plan writes: create a course's plan (with its default activities), goals, activities, statuses, safety plan."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.instruments import INSTRUMENT_IDS
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.careplan.models import CarePlan, CarePlanActivity, CarePlanGoal
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User

#: Activities every new plan starts with: (kind, description, days after the course start, owner is the prescriber).
#: Surveillance intervals are the shipped defaults of the long-term safety schedule (BPIC-SS and SDS every 90 days,
#: urinalysis every 180 days), configurable defaults; dosing and integration follow the course's protocol.
DEFAULT_ACTIVITIES: tuple[tuple[str, str, int, bool], ...] = (
    ("safety_plan", "Complete and review the safety plan with the patient", 7, True),
    ("dosing", "Dosing sessions as the course's protocol schedules them", 28, True),
    (
        "integration",
        "An integration session after each dosing session, within the clinic's window",
        28,
        False,
    ),
    ("surveillance", "Bladder symptom (BPIC-SS) and dependence (SDS) screens", 90, True),
    ("surveillance", "Urinalysis for blood", 180, True),
)
SAFETY_FIELDS = (
    "warning_signs",
    "coping_strategies",
    "support_contacts",
    "professional_contacts",
    "means_safety",
)


def _require_plan_perm(actor: User, clinic_id: int) -> None:
    if not (
        has_perm_in_clinic(actor, clinic_id, Perm.COURSE_MANAGE)
        or has_perm_in_clinic(actor, clinic_id, Perm.THERAPY_RECORD)
    ):
        raise PermissionDeniedError("your role in this clinic does not allow editing care plans")


def _plan_for_update(actor: User, plan_id: int, request: HttpRequest | None) -> CarePlan:
    plan = CarePlan.objects.select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("no such care plan")
    access_patient_by_id(actor, plan.patient_id, audit_action=None, request=request)
    _require_plan_perm(actor, plan.clinic_id)
    if plan.status != CarePlan.Status.ACTIVE:
        raise ConflictError("the care plan is no longer active")
    return plan


def _owner(
    user_id: int | None, clinic_id: int, errors: dict[str, list[str]], *, required: bool = True
) -> Any:
    from ketaclinic.web.accounts.models import User

    if not user_id:
        if required:
            errors["owner"] = ["required: who is responsible"]
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not has_perm_in_clinic(user, clinic_id, Perm.PATIENT_VIEW):
        errors["owner"] = ["must be a member of this clinic's care team"]
        return None
    return user


def do_create_care_plan(
    *, actor: User, course_id: int, title: str = "", request: HttpRequest | None = None
) -> CarePlan:
    """Create the plan of a course with its default activities (owners: the prescriber who started the course)."""
    from ketaclinic.web.treatment.models import TreatmentCourse

    if len(title) > 200:
        raise ValidationFailed({"title": ["at most 200 characters"]})
    with transaction.atomic():
        course = TreatmentCourse.objects.select_for_update().filter(pk=course_id).first()
        if course is None:
            raise NotFoundError("no such course")
        patient = access_patient_by_id(actor, course.patient_id, audit_action=None, request=request)
        _require_plan_perm(actor, patient.clinic_id)
        if CarePlan.objects.filter(course=course).exists():
            raise ConflictError("this course already has a care plan")
        now = timezone.now()
        plan = CarePlan.objects.create(
            clinic=patient.clinic,
            patient=patient,
            course=course,
            title=title.strip() or f"Care plan: {course.indication}",
            created_by=actor,
            created_at=now,
        )
        start = timezone.localdate(course.started_at)
        for kind, description, days, prescriber_owns in DEFAULT_ACTIVITIES:
            CarePlanActivity.objects.create(
                plan=plan,
                kind=kind,
                description=description,
                owner=course.started_by if prescriber_owns else None,
                due_on=start + dt.timedelta(days=days),
                created_at=now,
            )
        record_audit(
            actor=actor, action=AuditAction.CAREPLAN_CREATE, obj=plan, patient=patient, request=request
        )
    return plan


def do_add_goal(
    *,
    actor: User,
    plan_id: int,
    description: str,
    instrument_id: str,
    target: str,
    target_value: Any = None,
    owner_id: int | None,
    due_on: dt.date | None,
    request: HttpRequest | None = None,
) -> CarePlanGoal:
    """Add a goal: a scale target (remission, response, or a score at most a value) or one the owner judges."""
    from decimal import Decimal, InvalidOperation

    errors: dict[str, list[str]] = {}
    if not description.strip() or len(description) > 300:
        errors["description"] = ["required, at most 300 characters"]
    if target not in CarePlanGoal.Target.values:
        errors["target"] = ["must be remission, response, a score at most a value, or none"]
    if instrument_id and instrument_id not in INSTRUMENT_IDS:
        errors["instrument_id"] = ["is not a rating scale of the library"]
    if target in ("remission", "response", "at_most") and not instrument_id:
        errors["instrument_id"] = ["required for a scale target"]
    value: Decimal | None = None
    if target == "at_most":
        try:
            value = Decimal(str(target_value))
            if not value.is_finite() or value < 0 or value > 1000:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["target_value"] = ["required: a number from 0 to 1000"]
    if due_on is None:
        errors["due_on"] = ["required date"]
    with transaction.atomic():
        plan = _plan_for_update(actor, plan_id, request)
        owner = _owner(owner_id, plan.clinic_id, errors)
        if errors or due_on is None:
            raise ValidationFailed(errors)
        goal = CarePlanGoal.objects.create(
            plan=plan,
            description=description.strip(),
            instrument_id=instrument_id,
            target=target,
            target_value=value,
            owner=owner,
            due_on=due_on,
            created_at=timezone.now(),
        )
        record_audit(
            actor=actor, action=AuditAction.CAREPLAN_GOAL_ADD, obj=goal, patient=plan.patient, request=request
        )
    return goal


def do_add_activity(
    *,
    actor: User,
    plan_id: int,
    kind: str,
    description: str,
    owner_id: int | None,
    due_on: dt.date | None,
    request: HttpRequest | None = None,
) -> CarePlanActivity:
    errors: dict[str, list[str]] = {}
    if kind not in CarePlanActivity.Kind.values:
        errors["kind"] = [f"must be one of {', '.join(CarePlanActivity.Kind.labels)}"]
    if not description.strip() or len(description) > 300:
        errors["description"] = ["required, at most 300 characters"]
    if due_on is None:
        errors["due_on"] = ["required date"]
    with transaction.atomic():
        plan = _plan_for_update(actor, plan_id, request)
        owner = _owner(owner_id, plan.clinic_id, errors)
        if errors or due_on is None:
            raise ValidationFailed(errors)
        activity = CarePlanActivity.objects.create(
            plan=plan,
            kind=kind,
            description=description.strip(),
            owner=owner,
            due_on=due_on,
            created_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.CAREPLAN_ACTIVITY_ADD,
            obj=activity,
            patient=plan.patient,
            request=request,
        )
    return activity


def do_set_item_status(
    *, actor: User, plan_id: int, item: str, item_id: int, status: str, request: HttpRequest | None = None
) -> Any:
    """Mark a goal achieved/cancelled or an activity done/cancelled."""
    model: Any = CarePlanGoal if item == "goal" else CarePlanActivity if item == "activity" else None
    if model is None:
        raise ValidationFailed({"item": ["must be goal or activity"]})
    if status not in model.Status.values:
        raise ValidationFailed({"status": [f"must be one of {', '.join(model.Status.values)}"]})
    with transaction.atomic():
        plan = _plan_for_update(actor, plan_id, request)
        obj = model.objects.select_for_update().filter(pk=item_id, plan=plan).first()
        if obj is None:
            raise NotFoundError(f"no such {item} in this plan")
        before = obj.status
        obj.status = status
        obj.save(update_fields=["status"])
        record_audit(
            actor=actor,
            action=f"careplan.{item}_status",
            obj=obj,
            patient=plan.patient,
            request=request,
            detail={"from": before, "to": status},
        )
    return obj


def do_update_safety_plan(
    *, actor: User, plan_id: int, fields: dict[str, str], request: HttpRequest | None = None
) -> CarePlan:
    """Replace the safety plan's sections (warning signs, coping, support and professional contacts, means safety)."""
    errors = {
        k: ["at most 2000 characters"] for k, v in fields.items() if k in SAFETY_FIELDS and len(v) > 2000
    }
    unknown = sorted(set(fields) - set(SAFETY_FIELDS))
    if unknown:
        errors[unknown[0]] = ["is not a section of the safety plan"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        plan = _plan_for_update(actor, plan_id, request)
        for k in SAFETY_FIELDS:
            if k in fields:
                setattr(plan, k, fields[k].strip())
        plan.safety_plan_updated_at = timezone.now()
        plan.save(update_fields=[*SAFETY_FIELDS, "safety_plan_updated_at"])
        record_audit(
            actor=actor,
            action=AuditAction.CAREPLAN_SAFETY_PLAN_UPDATE,
            obj=plan,
            patient=plan.patient,
            request=request,
        )
    return plan
