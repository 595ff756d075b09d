"""Writes of the alert inbox: acknowledging any kind of open alert with a chosen action, in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.home.inbox import BEDSIDE_ACTIONS, KIND_LABELS, NOTE_REQUIRED
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic


_BEDSIDE_LABELS = dict(BEDSIDE_ACTIONS)


def _action_labels(kind: str) -> dict[str, str]:
    """The actions one may record on an alert of `kind`, with their words."""
    if kind == "suicide_risk":
        from ketaclinic.web.assessments.models import SuicideAlert

        return {str(v): str(label) for v, label in SuicideAlert.Action.choices}
    if kind == "safety":
        from ketaclinic.web.surveillance.models import SurveillanceDecision

        return {str(v): str(label) for v, label in SurveillanceDecision.Decision.choices}
    return _BEDSIDE_LABELS


def _int(raw: Any, field: str, errors: dict[str, list[str]]) -> int:
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        errors[field] = ["must be a whole number"]
        return 0
    if value <= 0:
        errors[field] = ["must be a whole number"]
    return value


def do_acknowledge_inbox_alert(
    *,
    actor: User,
    clinic: Clinic,
    kind: Any,
    ref: Any,
    patient_id: Any,
    action: Any,
    note: Any,
    request: HttpRequest | None = None,
) -> None:
    """Acknowledge one open alert of `clinic` from the inbox with the action taken (no default: `action` must
    be chosen), and a note where that kind needs one. Dispatches to the owning app's action inside one
    transaction, so the acknowledgement and its audit rows commit together or not at all. A safety alert is
    closed by the prescriber's decision (continue, reduce, pause, refer) with the note as its reason."""
    errors: dict[str, list[str]] = {}
    if kind not in KIND_LABELS:
        raise ValidationFailed({"kind": ["must be one of: " + ", ".join(KIND_LABELS.values())]})
    action_text = str(action or "").strip()
    note_text = str(note or "").strip()
    if not action_text:
        errors["action"] = ["choose what was done"]
    if len(note_text) > 500:
        errors["note"] = ["must be at most 500 characters"]
    pid = _int(patient_id, "patient", errors)
    labels = _action_labels(kind)
    if action_text and action_text not in labels:
        errors["action"] = ["must be one of: " + ", ".join(labels.values())]
    elif (
        action_text and not note_text and (kind not in ("session", "sensor") or action_text in NOTE_REQUIRED)
    ):
        errors["note"] = [
            "give the reason for the decision"
            if kind == "safety"
            else f"say what was done ({labels[action_text].lower()})"
        ]
    if kind != "safety":
        alert_id = _int(ref, "alert", errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        if kind == "suicide_risk":
            _suicide(actor, clinic, alert_id, pid, action_text, note_text, request)
        elif kind == "session":
            _session(actor, clinic, alert_id, pid, action_text, note_text, request)
        elif kind == "sensor":
            _sensor(actor, clinic, alert_id, pid, action_text, note_text)
        else:
            _safety(actor, clinic, str(ref or ""), pid, action_text, note_text, request)


def _suicide(
    actor: User, clinic: Clinic, alert_id: int, pid: int, action: str, note: str, request: HttpRequest | None
) -> None:
    from ketaclinic.web.assessments.actions import do_acknowledge_alert
    from ketaclinic.web.assessments.models import SuicideAlert

    if not SuicideAlert.objects.filter(pk=alert_id, clinic=clinic, patient_id=pid).exists():
        raise NotFoundError("no such alert in this clinic")
    do_acknowledge_alert(actor=actor, alert_id=alert_id, action=action, note=note, request=request)


def _session(
    actor: User, clinic: Clinic, alert_id: int, pid: int, action: str, note: str, request: HttpRequest | None
) -> None:
    from ketaclinic.web.treatment.actions import do_acknowledge_session_alert
    from ketaclinic.web.treatment.models import SessionAlert

    alert = (
        SessionAlert.objects.select_related("session")
        .filter(pk=alert_id, session__clinic=clinic, session__patient_id=pid)
        .first()
    )
    if alert is None:
        raise NotFoundError("no such alert in this clinic")
    do_acknowledge_session_alert(actor=actor, alert_id=alert_id, request=request)
    # The session alert row has no action column: the action taken is kept in this audit row.
    record_audit(
        actor=actor,
        action=AuditAction.SESSION_ALERT_ACTION,
        obj=alert.session,
        patient=alert.session.patient,
        request=request,
        detail={"alert": alert.pk, "code": alert.code, "action": action, "note": note},
    )


def _sensor(actor: User, clinic: Clinic, alert_id: int, pid: int, action: str, note: str) -> None:
    from ketaclinic.web.access import access_patient_by_id
    from ketaclinic.web.monitoring.actions import do_acknowledge_alert
    from ketaclinic.web.monitoring.models import MonitoringAlert

    alert = (
        MonitoringAlert.objects.select_related("session", "session__clinic", "session__patient")
        .filter(pk=alert_id, session__clinic=clinic, session__patient_id=pid)
        .first()
    )
    if alert is None:
        raise NotFoundError("no such alert in this clinic")
    access_patient_by_id(actor, pid, audit_action=None)
    do_acknowledge_alert(actor=actor, alert=alert, action=action, note=note)


def _safety(
    actor: User, clinic: Clinic, code: str, pid: int, action: str, note: str, request: HttpRequest | None
) -> None:
    from ketaclinic.web.access import access_patient_by_id
    from ketaclinic.web.surveillance.actions import do_record_surveillance_decision

    access_patient_by_id(actor, pid, clinic=clinic, audit_action=None)
    do_record_surveillance_decision(
        actor=actor, patient_id=pid, alert_code=code, decision=action, reason=note, request=request
    )
