"""Charting during a session: vitals, scales, side effects, interventions and session alerts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.protocols.monitoring import (
    VitalAlert,
    evaluate_sedation,
    evaluate_vitals,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group
from ketaclinic.web.lib.words import human_text
from ketaclinic.web.treatment.actions.common import (
    S,
    _aware,
    _require_status,
    _session_for_update,
    _transition,
)
from ketaclinic.web.treatment.models import (
    DosingSession,
    Intervention,
    ScaleReading,
    SessionAlert,
    SideEffect,
    VitalSign,
)
from ketaclinic.web.treatment.selectors import baseline_vitals, vitals_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def session_alert_dict(session: DosingSession, alert: SessionAlert) -> dict[str, Any]:
    """A session alert in the live board's alert shape (the sensor alerts' fields), keyed apart from them."""
    from django.urls import reverse

    return {
        "id": f"session-{alert.pk}",
        "pk": alert.pk,
        "kind": "session",
        "session": session.pk,
        "rule_id": alert.code,
        "severity": "critical" if alert.level == "critical" else "warning",
        "message": alert.message,
        "source": alert.source,
        "fired_at": alert.raised_at.isoformat(),
        "cleared_at": None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "escalated_at": None,
        "ack_url": reverse("treatment:session_step", kwargs={"session_id": session.pk, "step": "ack"}),
        "run_sheet": reverse("treatment:session", kwargs={"session_id": session.pk}),
    }


def announce_session_alert(session: DosingSession, alert: SessionAlert, *, paused: bool) -> None:
    """After commit: the alert on the site's live board (like a sensor alert) and a toast, naming the patient,
    for the clinic's staff who may act on it."""
    from ketaclinic.web.lib.live import bedside_group

    board = {"type": "alert", **session_alert_dict(session, alert)}
    name = session.patient.full_name
    toast = {
        "type": "alert",
        "toast": True,
        "kind": "session",
        "key": f"session-{alert.pk}",
        "session": session.pk,
        "level": "danger" if alert.level == "critical" else "warning",
        "title": f"{name}: {alert.message}" + (" Infusion paused." if paused else ""),
        "url": board["run_sheet"],
    }
    notify_group(bedside_group(session.clinic_id), toast)
    if session.site_id is not None:
        from ketaclinic.web.monitoring.actions import board_group

        notify_group(board_group(session.site_id), board)


def announce_session_alert_ack(session: DosingSession, alert: SessionAlert) -> None:
    """After commit: the alert leaves the board and every toast of it, wherever it was acknowledged."""
    from ketaclinic.web.lib.live import bedside_group

    at = alert.acknowledged_at.isoformat() if alert.acknowledged_at else None
    notify_group(bedside_group(session.clinic_id), {"type": "alert_ack", "key": f"session-{alert.pk}"})
    if session.site_id is not None:
        from ketaclinic.web.monitoring.actions import board_group

        notify_group(
            board_group(session.site_id),
            {"type": "alert_ack", "id": f"session-{alert.pk}", "session": session.pk, "acknowledged_at": at},
        )


def _raise_alert(session: DosingSession, a: VitalAlert, *, vital: VitalSign | None) -> SessionAlert:
    """Store an evaluated alert on the session (pausing a running infusion if the rule says so) and
    announce it to the clinic once the transaction commits."""
    code, level, message = a.code, a.level, a.message
    paused = a.pause_infusion and session.status == S.DOSING and not session.infusion_paused
    alert = SessionAlert.objects.create(
        session=session,
        code=code,
        level=level,
        message=human_text(message)[:400],
        source=a.source,
        vital_sign=vital,
        paused_infusion=paused,
        raised_at=timezone.now(),
    )
    if paused:
        from ketaclinic.web.treatment.actions.dosing import pause_infusion

        pause_infusion(session, at=alert.raised_at, reason=f"alert: {message}", alert=alert)
    announce_session_alert(session, alert, paused=paused)
    pk, clinic_id, sid = alert.pk, session.clinic_id, session.pk
    transaction.on_commit(
        lambda: notify_group(
            clinic_group(clinic_id),
            {
                "type": "alert",
                "level": level,
                "code": code,
                "session": sid,
                "alert": pk,
                "text": f"Session {sid}: {message}" + (" Infusion paused." if paused else ""),
            },
        )
    )
    return alert


# A session in which vitals and sedation/dissociation scores may be charted: from check-in until discharge.
_CHARTING_STATUSES = (S.CHECKED_IN, S.PRE_DOSE_CHECKS, S.DOSING, S.MONITORING, S.DISCHARGE_READY)


_VITAL_LIMITS = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "spo2": (50, 100),
    "respiratory_rate": (2, 60),
}


def record_vitals_in(
    session: DosingSession,
    *,
    actor: User,
    taken_at: dt.datetime,
    values: dict[str, int | None],
    source: str = VitalSign.Source.MANUAL,
    device_id: str | None = None,
) -> tuple[VitalSign, list[SessionAlert]]:
    """Store one vitals set in a locked session and raise its alerts (used by manual entry and sensors)."""
    baseline = session.status == S.CHECKED_IN
    vs = VitalSign.objects.create(
        session=session,
        patient=session.patient,
        taken_at=taken_at,
        source=source,
        device_id=device_id,
        is_baseline=baseline,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **values,
    )
    pk, clinic_id = session.pk, session.clinic_id
    notify_group(clinic_group(clinic_id), {"type": "session_vitals", "session": pk, "source": source})
    base = baseline_vitals(session)
    phase = "pre_dose" if session.status in (S.CHECKED_IN, S.SCHEDULED, S.PRE_DOSE_CHECKS) else "during"
    alerts = [
        _raise_alert(session, a, vital=vs)
        for a in evaluate_vitals(
            vitals_of(vs),
            phase=phase,  # type: ignore[arg-type]
            baseline=vitals_of(base) if base and not baseline else None,
        )
    ]
    return vs, alerts


def do_record_vitals(
    *,
    actor: User,
    session_id: int,
    values: Mapping[str, object],
    taken_at: Any = None,
    request: HttpRequest | None = None,
) -> tuple[VitalSign, list[SessionAlert]]:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, *_CHARTING_STATUSES, doing="record vitals")
        errors: dict[str, list[str]] = {}
        when = _aware(taken_at, "taken_at", errors) or timezone.now()
        clean: dict[str, int | None] = {}
        for k, (lo, hi) in _VITAL_LIMITS.items():
            raw = values.get(k)
            if raw in (None, ""):
                clean[k] = None
                continue
            try:
                x = int(str(raw))
            except ValueError:
                errors[k] = ["must be a whole number"]
                continue
            if not lo <= x <= hi:
                errors[k] = [f"must be between {lo} and {hi}"]
            clean[k] = x
        if not errors and all(v is None for v in clean.values()):
            errors["vitals"] = ["enter at least one value"]
        if (clean.get("systolic") is None) != (clean.get("diastolic") is None) and "systolic" not in errors:
            errors["diastolic" if clean.get("diastolic") is None else "systolic"] = [
                "enter both systolic and diastolic"
            ]
        if errors:
            raise ValidationFailed(errors)
        vs, alerts = record_vitals_in(session, actor=actor, taken_at=when, values=clean)
        record_audit(
            actor=actor,
            action=AuditAction.VITALS_RECORD,
            obj=vs,
            patient=session.patient,
            request=request,
            detail={**{k: v for k, v in clean.items() if v is not None}, "alerts": [a.code for a in alerts]},
        )
    return vs, alerts


def do_record_scale(
    *,
    actor: User,
    session_id: int,
    kind: str,
    score: Any,
    taken_at: Any = None,
    request: HttpRequest | None = None,
) -> ScaleReading:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, *_CHARTING_STATUSES, doing="record a score")
        errors: dict[str, list[str]] = {}
        if kind not in ScaleReading.Kind.values:
            errors["kind"] = ["must be moaas or cadss"]
        hi = 5 if kind == "moaas" else 92  # CADSS total 0-92 (23 items scored 0-4)
        try:
            value = int(str(score))
            if not 0 <= value <= hi:
                errors["score"] = [f"must be between 0 and {hi}"]
        except ValueError:
            errors["score"] = ["must be a whole number"]
            value = 0
        when = _aware(taken_at, "taken_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        reading = ScaleReading.objects.create(
            session=session, kind=kind, score=value, taken_at=when, recorded_by=actor
        )
        if kind == "moaas":
            a = evaluate_sedation(value)
            if a is not None:
                _raise_alert(session, a, vital=None)
        notify_group(clinic_group(session.clinic_id), {"type": "session_score", "session": session.pk})
        record_audit(
            actor=actor,
            action=AuditAction.SCALE_RECORD,
            obj=session,
            patient=session.patient,
            request=request,
            detail={"kind": kind, "score": value},
        )
    return reading


def do_record_side_effect(
    *,
    actor: User,
    session_id: int,
    code: str,
    severity: str,
    onset_at: Any = None,
    serious: bool = False,
    notes: str = "",
    request: HttpRequest | None = None,
) -> SideEffect:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="record a side effect")
        errors: dict[str, list[str]] = {}
        if code not in SideEffect.Code.values:
            errors["code"] = ["choose a coded side effect"]
        if severity not in SideEffect.Severity.values:
            errors["severity"] = ["must be mild, moderate or severe"]
        when = _aware(onset_at, "onset_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        se = SideEffect.objects.create(
            session=session,
            code=code,
            severity=severity,
            serious=bool(serious),
            onset_at=when,
            notes=notes,
            recorded_by=actor,
        )
        if session.status == S.DISCHARGE_READY:
            _transition(session, S.MONITORING, actor=actor, detail={"reason": "new side effect"})
            session.discharge_ready_at = None
            session.save()
        record_audit(
            actor=actor,
            action=AuditAction.SIDE_EFFECT_RECORD,
            obj=se,
            patient=session.patient,
            request=request,
            detail={"code": code, "severity": severity, "serious": bool(serious)},
        )
    return se


def do_resolve_side_effect(
    *, actor: User, side_effect_id: int, request: HttpRequest | None = None
) -> SideEffect:
    with transaction.atomic():
        se = SideEffect.objects.select_for_update().filter(pk=side_effect_id).first()
        if se is None:
            raise NotFoundError("no such side effect")
        session = _session_for_update(actor, se.session_id)
        if se.resolved_at is not None:
            raise ConflictError("already resolved")
        se.resolved_at = timezone.now()
        se.save(update_fields=["resolved_at"])
        record_audit(
            actor=actor,
            action=AuditAction.SIDE_EFFECT_RESOLVE,
            obj=se,
            patient=session.patient,
            request=request,
        )
    return se


def do_record_intervention(
    *,
    actor: User,
    session_id: int,
    description: str,
    given_at: Any = None,
    request: HttpRequest | None = None,
) -> Intervention:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="record an intervention")
        errors: dict[str, list[str]] = {}
        if not (description or "").strip():
            errors["description"] = ["is required"]
        when = _aware(given_at, "given_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        iv = Intervention.objects.create(
            session=session, description=description.strip(), given_at=when, recorded_by=actor
        )
        record_audit(
            actor=actor,
            action=AuditAction.INTERVENTION_RECORD,
            obj=session,
            patient=session.patient,
            request=request,
            detail={"description": iv.description},
        )
    return iv


def do_acknowledge_session_alert(
    *, actor: User, alert_id: int, request: HttpRequest | None = None
) -> SessionAlert:
    with transaction.atomic():
        alert = SessionAlert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFoundError("no such alert")
        session = _session_for_update(actor, alert.session_id)
        if alert.acknowledged_at is not None:
            raise ConflictError("already acknowledged")
        alert.acknowledged_by = actor
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        announce_session_alert_ack(session, alert)
        record_audit(
            actor=actor,
            action=AuditAction.SESSION_ALERT_ACKNOWLEDGE,
            obj=session,
            patient=session.patient,
            request=request,
            detail={"alert": alert.pk, "code": alert.code},
        )
    return alert
