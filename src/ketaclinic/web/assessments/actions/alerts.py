"""Suicide-risk alerts: a prescriber's acknowledgement with the action taken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.assessments.models import (
    SuicideAlert,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_acknowledge_alert(
    *, actor: User, alert_id: int, action: Any, note: Any, request: HttpRequest | None = None
) -> SuicideAlert:
    """A prescriber acknowledges an alert with a documented action (safety plan, contact, referral)."""
    errors: dict[str, list[str]] = {}
    if action not in SuicideAlert.Action.values:
        errors["action"] = [f"must be one of {', '.join(SuicideAlert.Action.values)}"]
    note_text = str(note or "").strip()
    if not note_text:
        errors["note"] = ["document what was done"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        alert = SuicideAlert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFoundError("no such alert")
        patient = access_patient_by_id(actor, alert.patient_id, audit_action=None, request=request)
        require_perm(actor, patient.clinic_id, Perm.ALERT_ACKNOWLEDGE)
        if alert.acknowledged_at is not None:
            raise ConflictError("the alert is already acknowledged")
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor
        alert.action = action
        alert.note = note_text[:4000]
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "action", "note"])
        record_audit(
            actor=actor,
            action=AuditAction.SUICIDE_ALERT_ACKNOWLEDGE,
            obj=alert,
            patient=patient,
            request=request,
            detail={"action": action, "note": alert.note},
        )
        notify_group(
            clinic_group(patient.clinic_id),
            {"type": "suicide_alert.acknowledged", "patient_id": patient.pk, "alert_id": alert.pk},
        )
    return alert
