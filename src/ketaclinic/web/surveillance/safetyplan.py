"""The safety-plan task: opened by a suicide-risk alert, completed with the patient, printed and exported."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.safetyplan import SAFETY_PLAN_SECTIONS, SafetyPlanFacts, safety_plan_resource
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.surveillance.models import SafetyPlan

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient

FIELDS = tuple(k for k, _ in SAFETY_PLAN_SECTIONS)
MAX_CHARS = 2000
#: Who may complete a safety plan with the patient: clinicians who record assessments, prescribers, therapists.
COMPLETE_PERMS = (Perm.ASSESSMENT_RECORD, Perm.ALERT_ACKNOWLEDGE, Perm.THERAPY_RECORD)


def open_safety_plan_task(
    alert: Any, *, actor: User, request: HttpRequest | None = None
) -> SafetyPlan | None:
    """Suicide-alert hook, inside the alert's transaction: open a safety-plan task on the patient unless one is
    already open (a second alert points to the same open task)."""
    if SafetyPlan.objects.filter(patient_id=alert.patient_id, completed_at__isnull=True).exists():
        return None
    plan = SafetyPlan.objects.create(
        clinic_id=alert.clinic_id, patient_id=alert.patient_id, suicide_alert=alert, opened_at=timezone.now()
    )
    record_audit(
        actor=actor if actor is not None else "remote-patient",
        action=AuditAction.SAFETY_PLAN_OPEN,
        obj=plan,
        patient=alert.patient,
        request=request,
        detail={"suicide_alert": alert.pk},
    )
    return plan


def may_complete(user: Any, clinic_id: int) -> bool:
    return any(has_perm_in_clinic(user, clinic_id, p) for p in COMPLETE_PERMS)


def do_complete_safety_plan(
    *, actor: User, plan_id: int, fields: dict[str, Any], request: HttpRequest | None = None
) -> SafetyPlan:
    """Complete the open safety plan with every one of its seven sections written (at most 2000 characters
    each); audited with the sections' lengths, in one transaction."""
    values = {k: str(fields.get(k) or "").strip() for k in FIELDS}
    names = dict(SAFETY_PLAN_SECTIONS)
    errors: dict[str, list[str]] = {}
    for k, v in values.items():
        if not v:
            errors[k] = [f"write the {names[k].lower()} with the patient"]
        elif len(v) > MAX_CHARS:
            errors[k] = [f"must be at most {MAX_CHARS} characters"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        plan = SafetyPlan.objects.select_for_update().filter(pk=plan_id).first()
        if plan is None:
            raise NotFoundError("no such safety plan")
        patient = access_patient_by_id(actor, plan.patient_id, audit_action=None, request=request)
        if not may_complete(actor, patient.clinic_id):
            raise PermissionDeniedError("your role in this clinic does not allow completing a safety plan")
        if plan.completed_at is not None:
            raise ConflictError("this safety plan is already completed")
        for k, v in values.items():
            setattr(plan, k, v)
        plan.completed_at = timezone.now()
        plan.completed_by = actor
        plan.save(update_fields=[*FIELDS, "completed_at", "completed_by"])
        record_audit(
            actor=actor,
            action=AuditAction.SAFETY_PLAN_COMPLETE,
            obj=plan,
            patient=patient,
            request=request,
            detail={"sections": {k: len(v) for k, v in values.items()}},
        )
    return plan


def safety_plans_for_patient(patient: Patient) -> QuerySet[SafetyPlan]:
    return SafetyPlan.objects.filter(patient=patient).select_related("completed_by", "suicide_alert")


def sections_of(plan: SafetyPlan) -> list[tuple[str, str, str]]:
    """(field, name, text) of each section, in the intervention's order."""
    return [(k, name, getattr(plan, k)) for k, name in SAFETY_PLAN_SECTIONS]


def safety_plan_fhir(plan: SafetyPlan) -> dict[str, Any]:
    by = plan.completed_by
    return safety_plan_resource(
        SafetyPlanFacts(
            id=f"safety-plan-{plan.pk}",
            patient_id=str(plan.patient_id),
            opened_at=plan.opened_at,
            completed_at=plan.completed_at,
            completed_by=(by.display_name or by.username) if by is not None else None,
            sections=[(k, getattr(plan, k)) for k in FIELDS],
        )
    )
