"""Writes of this domain: do_<verb>_<noun> actions, each one transaction with its audit record."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.monitoring import AlertEngine, AlertEvent, EventKind, Reading, RuleSet, Severity
from ketaclinic.core.monitoring.engine import SessionMonitor
from ketaclinic.core.monitoring.protocol import session_ruleset
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.live import (
    bedside_group,
    clinic_group,
    close_sockets,
    device_group,
    send_now,
    site_group,
)
from ketaclinic.web.lib.words import human_text
from ketaclinic.web.monitoring.fastpath import Row, insert_rows_pg
from ketaclinic.web.monitoring.models import (
    Device,
    DeviceAttachment,
    MonitoringAlert,
    SensorReading,
    SessionRuleState,
)
from ketaclinic.web.monitoring.pipeline import MAX_BATCH, BatchResult, DeviceContext, ingest_items
from ketaclinic.web.monitoring.selectors import alert_dict
from ketaclinic.web.treatment.models import DosingSession

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User

#: Sessions in these states may have a sensor attached and stream readings.
ACTIVE_SESSION_STATES = frozenset(
    {
        DosingSession.Status.CHECKED_IN,
        DosingSession.Status.PRE_DOSE_CHECKS,
        DosingSession.Status.DOSING,
        DosingSession.Status.MONITORING,
        DosingSession.Status.DISCHARGE_READY,
    }
)
#: A session without stored rule state is primed from its readings this recent (and its open alerts).
PRIME_WINDOW = timedelta(seconds=120)


def board_group(site_id: int) -> str:
    """Channels group of a site's live monitoring board (vitals and alerts)."""
    return f"monitoring-board-{site_id}"


# ------------------------------------------------------------------------------------------------ engine


class _ProcessEngine:
    """This process's copy of the alert state: one SessionMonitor per session, kept in step with the database.

    The authoritative state is the session's SessionRuleState row. Ingestion locks that row, and `sync` loads
    it when this process's copy is older (another process or host evaluated readings since), so a session's
    readings may arrive at any process. `lock` guards the in-memory dict: sync API handlers run in a pool.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.engine = AlertEngine(self._ruleset_for)
        self._ruleset: RuleSet | None = None
        self.versions: dict[int, int] = {}

    def _ruleset_for(self, _session: str) -> RuleSet:
        if self._ruleset is None:
            self._ruleset = session_ruleset()
        return self._ruleset

    def ruleset(self) -> RuleSet:
        return self._ruleset_for("")

    def sync(self, session_id: int, row: SessionRuleState, now: datetime) -> SessionMonitor:
        """This process's monitor for the session, loaded from `row` (locked by the caller) when stale."""
        key = str(session_id)
        if self.versions.get(session_id) == row.version and self.engine.has(key):
            return self.engine.monitor(key)
        mon = self.engine.replace(key)
        if row.state:
            mon.restore(row.state)
        else:
            recent = (
                SensorReading.objects.filter(session_id=session_id, measured_at__gte=now - PRIME_WINDOW)
                .order_by("measured_at", "pk")
                .values_list("metric", "value", "measured_at")
            )
            for metric, value, at in recent:
                mon.evaluate_value(metric, value, at)  # events discarded: they were handled when first seen
        open_rules = MonitoringAlert.objects.filter(
            session_id=session_id, cleared_at__isnull=True
        ).values_list("rule_id", flat=True)
        mon.set_open(list(open_rules))
        self.versions[session_id] = row.version
        return mon

    def forget(self, session_id: int) -> None:
        with self.lock:
            self.engine.drop(str(session_id))
            self.versions.pop(session_id, None)

    def reset(self) -> None:
        """Drop all in-memory state (tests, or after a database failover)."""
        with self.lock:
            self.engine = AlertEngine(self._ruleset_for)
            self._ruleset = None
            self.versions = {}


ENGINE = _ProcessEngine()


class _LockedEngine:
    """The AlertEngine interface the pipeline needs, evaluated under the process lock."""

    def __init__(self, pe: _ProcessEngine) -> None:
        self.pe = pe

    def evaluate(self, reading: Reading) -> tuple[AlertEvent, ...]:
        with self.pe.lock:
            return self.pe.engine.evaluate(reading)


def _lock_rule_state(session_id: int) -> SessionRuleState:
    """The session's rule-state row, created if missing, locked until the end of the transaction."""
    SessionRuleState.objects.bulk_create([SessionRuleState(session_id=session_id)], ignore_conflicts=True)
    return SessionRuleState.objects.select_for_update().get(session_id=session_id)


# ------------------------------------------------------------------------------------------------ devices


def _require_device_manager(actor: User, clinic_id: int) -> None:
    require_perm(actor, clinic_id, Perm.DEVICE_MANAGE)


def do_register_device(
    *, actor: User, site: Site, label: str, serial: str, kind: str = "wearable"
) -> tuple[Device, str]:
    """Register a device to `site`; returns it and its raw token (shown once; only the digest is kept)."""
    _require_device_manager(actor, site.clinic_id)
    errors: dict[str, list[str]] = {}
    label, serial = (label or "").strip(), (serial or "").strip()
    if not label:
        errors["label"] = ["required"]
    elif len(label) > 100:
        errors["label"] = ["at most 100 characters"]
    if not serial:
        errors["serial"] = ["required"]
    elif len(serial) > 64:
        errors["serial"] = ["at most 64 characters"]
    if kind not in Device.Kind.values:
        errors["kind"] = [f"must be one of {', '.join(Device.Kind.values)}"]
    if not errors and Device.objects.filter(clinic_id=site.clinic_id, serial=serial).exists():
        errors["serial"] = [f"a device with serial {serial!r} is already registered in this clinic"]
    if errors:
        raise ValidationFailed(errors)
    raw = Device.new_token()
    now = timezone.now()
    with transaction.atomic():
        device = Device.objects.create(
            clinic_id=site.clinic_id,
            site=site,
            label=label,
            serial=serial,
            kind=kind,
            token_prefix=raw[:12],
            token_digest=Device.digest_of(raw),
            token_issued_at=now,
            registered_by=actor,
            registered_at=now,
        )
        record_audit(
            actor=actor, action=AuditAction.DEVICE_REGISTER, obj=device, clinic=site.clinic,
            detail={"site": site.pk, "serial": serial, "kind": kind, "token_prefix": raw[:12]},
        )  # fmt: skip
    return device, raw


def do_rotate_device_token(*, actor: User, device: Device) -> str:
    """Issue a new token; the old one stops working at once."""
    _require_device_manager(actor, device.clinic_id)
    if device.revoked_at is not None:
        raise ConflictError(
            "the device is revoked", fields={"device": ["revoked devices cannot get a token"]}
        )
    raw = Device.new_token()
    with transaction.atomic():
        Device.objects.filter(pk=device.pk).update(
            token_prefix=raw[:12], token_digest=Device.digest_of(raw), token_issued_at=timezone.now()
        )
        record_audit(
            actor=actor, action=AuditAction.DEVICE_ROTATE_TOKEN, obj=device, detail={"token_prefix": raw[:12]}
        )
        close_sockets(device_group(device.pk), "token rotated")
    device.refresh_from_db()
    return raw


def do_revoke_device(*, actor: User, device: Device, reason: str) -> Device:
    """Revoke a device: its token stops working and any attachment ends."""
    _require_device_manager(actor, device.clinic_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["required: why the device is revoked"]})
    if device.revoked_at is not None:
        raise ConflictError("the device is already revoked", fields={"device": ["already revoked"]})
    now = timezone.now()
    with transaction.atomic():
        DeviceAttachment.objects.filter(device=device, detached_at__isnull=True).update(
            detached_at=now, detached_by=actor, detach_reason="device revoked"
        )
        Device.objects.filter(pk=device.pk).update(
            revoked_at=now, revoked_by=actor, revoke_reason=reason[:300]
        )
        record_audit(actor=actor, action=AuditAction.DEVICE_REVOKE, obj=device, detail={"reason": reason})
        close_sockets(device_group(device.pk), "device revoked")
    device.refresh_from_db()
    return device


def _can_run_sessions(actor: User, clinic_id: int) -> bool:
    return has_perm_in_clinic(actor, clinic_id, Perm.SESSION_RUN) or has_perm_in_clinic(
        actor, clinic_id, Perm.DEVICE_MANAGE
    )


def do_attach_device(*, actor: User, device: Device, session: DosingSession) -> DeviceAttachment:
    """Attach `device` to `session` (its patient wears it until detachment or discharge)."""
    if not _can_run_sessions(actor, device.clinic_id):
        raise PermissionDeniedError("you may not attach devices in this clinic")
    errors: dict[str, list[str]] = {}
    if session.clinic_id != device.clinic_id:
        errors["session"] = ["belongs to another clinic"]
    elif session.site_id is not None and session.site_id != device.site_id:
        errors["session"] = [f"is at another site than the device (site {device.site_id})"]
    if errors:
        raise ValidationFailed(errors)
    if device.revoked_at is not None:
        raise ConflictError("the device is revoked", fields={"device": ["revoked"]})
    if session.status not in ACTIVE_SESSION_STATES:
        raise ConflictError(
            f"session is {session.status}; devices attach to sessions from check-in to discharge",
            fields={"session": [f"status {session.status} does not take a device"]},
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            att = DeviceAttachment.objects.create(
                device=device, session=session, attached_at=now, attached_by=actor
            )
            record_audit(
                actor=actor, action=AuditAction.DEVICE_ATTACH, obj=att, clinic=session.clinic, patient=session.patient,
                detail={"device": device.pk, "session": session.pk},
            )  # fmt: skip
    except IntegrityError:
        current = DeviceAttachment.objects.filter(device=device, detached_at__isnull=True).first()
        where = f"session {current.session_id}" if current else "another session"
        raise ConflictError(
            f"the device is already attached to {where}",
            fields={"device": [f"attached to {where}; detach it first"]},
        ) from None
    return att


def do_detach_device(*, actor: User, device: Device, reason: str = "") -> DeviceAttachment:
    """End the device's current attachment."""
    if not _can_run_sessions(actor, device.clinic_id):
        raise PermissionDeniedError("you may not detach devices in this clinic")
    att = (
        DeviceAttachment.objects.filter(device=device, detached_at__isnull=True)
        .select_related("session")
        .first()
    )
    if att is None:
        raise ConflictError("the device is not attached", fields={"device": ["not attached to a session"]})
    with transaction.atomic():
        DeviceAttachment.objects.filter(pk=att.pk).update(
            detached_at=timezone.now(), detached_by=actor, detach_reason=(reason or "detached")[:200]
        )
        record_audit(
            actor=actor, action=AuditAction.DEVICE_DETACH, obj=att, clinic=att.session.clinic, patient=att.session.patient,
            detail={"device": device.pk, "session": att.session_id, "reason": reason},
        )  # fmt: skip
    att.refresh_from_db()
    return att


def do_detach_session_devices(*, actor: User, session: DosingSession, reason: str = "discharged") -> int:
    """Detach every device of a session (call from the discharge action, in its transaction)."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            DeviceAttachment.objects.filter(session=session, detached_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if ids:
            DeviceAttachment.objects.filter(pk__in=ids).update(
                detached_at=now, detached_by=actor if getattr(actor, "is_authenticated", False) else None,
                detach_reason=reason[:200],
            )  # fmt: skip
            record_audit(
                actor=actor, action=AuditAction.DEVICE_DETACH, obj=session, clinic=session.clinic, patient=session.patient,
                detail={"attachments": ids, "reason": reason},
            )  # fmt: skip
    transaction.on_commit(lambda: ENGINE.forget(session.pk))
    return len(ids)


# ------------------------------------------------------------------------------------------------ ingestion


def authenticate_device(raw_token: str) -> Device | None:
    if not raw_token or not raw_token.startswith("kcd_"):
        return None
    return (
        Device.objects.select_related("site")
        .filter(token_digest=Device.digest_of(raw_token), revoked_at__isnull=True)
        .first()
    )


def device_context(device: Device) -> tuple[DeviceContext, DosingSession | None]:
    """The device's ingestion context. A session that has ended detaches its devices here (discharge)."""
    att = (
        DeviceAttachment.objects.select_related("session")
        .filter(device=device, detached_at__isnull=True)
        .first()
    )
    session = att.session if att is not None else None
    if att is not None and session is not None and session.status not in ACTIVE_SESSION_STATES:
        DeviceAttachment.objects.filter(pk=att.pk, detached_at__isnull=True).update(
            detached_at=session.discharged_at or timezone.now(), detach_reason=f"session {session.status}"
        )
        session = None
    return DeviceContext(device.pk, device.key, session.pk if session else None), session


def _insert(rows: Sequence[Row]) -> list[int]:
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            return insert_rows_pg(cur.cursor, SensorReading._meta.db_table, rows, now)
    # Portable path (SQLite): look up which keys exist, insert the rest; the unique constraint still guards.
    keys = {(r.device_id, r.code, r.seq) for r in rows}
    existing = set(
        SensorReading.objects.filter(
            device_id__in={k[0] for k in keys}, seq__in={k[2] for k in keys}
        ).values_list("device_id", "code", "seq")
    )
    new_idx, objs, seen = [], [], set()
    for i, r in enumerate(rows):
        k = (r.device_id, r.code, r.seq)
        if k in existing or k in seen:
            continue
        seen.add(k)
        new_idx.append(i)
        objs.append(
            SensorReading(
                device_id=r.device_id, session_id=r.session_id, metric=r.metric, code=r.code, value=r.value,
                unit=r.unit, measured_at=r.measured_at, seq=r.seq, received_at=now,
            )
        )  # fmt: skip
    SensorReading.objects.bulk_create(objs)
    return new_idx


def _store_events(
    events: Sequence[AlertEvent], session: DosingSession, device: Device, rs: RuleSet
) -> list[MonitoringAlert]:
    fired: list[MonitoringAlert] = []
    now = timezone.now()
    for e in events:
        if e.kind is EventKind.FIRED:
            try:
                with transaction.atomic():  # savepoint: another process may hold the open alert already
                    fired.append(
                        MonitoringAlert.objects.create(
                            session=session,
                            site_id=device.site_id,
                            device=device,
                            rule_id=e.rule_id,
                            rule_type=e.rule_type.value,
                            severity=e.severity.value,
                            metric=e.metric,
                            value=e.value,
                            unit=e.unit,
                            message=human_text(e.message)[:300],
                            source=e.source,
                            ruleset=f"{rs.id}@{rs.version}",
                            fired_at=e.time,
                            raised_at=now,
                        )
                    )
            except IntegrityError:
                continue
        else:
            MonitoringAlert.objects.filter(
                session=session, rule_id=e.rule_id, cleared_at__isnull=True
            ).update(cleared_at=e.time, cleared_value=e.value)
    return fired


def alert_event(a: MonitoringAlert, *, kind: str = "alert") -> dict[str, Any]:
    """The live payload of an alert (the board and live.js toasts read it): the alert's fields plus routing."""
    return {
        "type": kind,
        **alert_dict(a),
        "site": a.site_id,
        "url": f"/monitoring/sites/{a.site_id}/board/",
        "text": a.message,
        "level": "critical" if a.severity == Severity.CRITICAL else "warning",
    }


def _toast_event(a: MonitoringAlert, session: Any) -> dict[str, Any]:
    """The toast of a sensor alert for the staff who may act on it: the patient named, keyed for removal."""
    return {
        "type": "alert",
        "toast": True,
        "kind": "sensor",
        "key": f"sensor-{a.pk}",
        "session": session.pk,
        "level": "danger" if a.severity == Severity.CRITICAL else "warning",
        "title": f"{session.patient.full_name}: {a.message}",
        "url": f"/monitoring/sites/{a.site_id}/board/",
    }


def _vitals_event(session_id: int, rows: Sequence[Row], arrived: float) -> dict[str, Any]:
    latest: dict[str, list[Any]] = {}
    for r in rows:
        cur = latest.get(r.metric)
        if cur is None or r.measured_at.isoformat() >= cur[0]:
            latest[r.metric] = [r.measured_at.isoformat(), r.value]
    return {"type": "vitals", "session": session_id, "values": latest, "arrived": arrived}


def do_ingest_readings(
    *, device: Device, items: Sequence[object], arrived: float | None = None
) -> BatchResult:
    """Validate and store one device batch, evaluate alert rules on the new readings, push to the board.

    One transaction: readings and the alerts they fired commit together; live events go out after commit.
    Bad readings are reported per index and good ones kept. No audit row per batch: every reading carries
    its device and receive time, and device registration/attachment are audited.
    """
    if not isinstance(items, list | tuple):
        raise ValidationFailed({"readings": ["must be a list"]})
    if len(items) > MAX_BATCH:
        raise ValidationFailed({"readings": [f"at most {MAX_BATCH} readings per batch"]})
    arrived = time.time() if arrived is None else arrived
    now = timezone.now()
    ctx, session = device_context(device)
    rs = ENGINE.ruleset()
    try:
        with transaction.atomic():
            # Lock the session's rule state first (never while holding ENGINE.lock: another thread of this
            # process may hold the row and need ENGINE.lock to finish), then bring this process's copy up to date.
            row = _lock_rule_state(session.pk) if session is not None else None
            if session is not None and row is not None:
                with ENGINE.lock:
                    ENGINE.sync(session.pk, row, now)
            result = ingest_items(items, device=ctx, now=now, insert=_insert, engine=_LockedEngine(ENGINE))  # type: ignore[arg-type]
            fired = _store_events(result.events, session, device, rs) if (result.events and session) else []
            if result.stored:
                Device.objects.filter(pk=device.pk).update(last_seen_at=now)
                if session is not None and row is not None:
                    with ENGINE.lock:
                        snap = ENGINE.engine.monitor(str(session.pk)).snapshot()
                        ENGINE.versions[session.pk] = row.version + 1
                    SessionRuleState.objects.filter(pk=session.pk).update(
                        version=row.version + 1, state=snap, updated_at=now
                    )
    except Exception:
        if session is not None:
            ENGINE.forget(session.pk)  # its in-memory state saw readings that were not stored
        raise
    if session is not None and (result.new_rows or result.events):
        site_id = device.site_id
        vitals = _vitals_event(session.pk, result.new_rows, arrived) if result.new_rows else None
        alert_payloads = [dict(alert_event(a), arrived=arrived) for a in fired]
        toasts = [_toast_event(a, session) for a in fired]
        bedside = bedside_group(session.clinic_id)
        cleared = [
            {"type": "alert_cleared", "session": session.pk, "rule_id": e.rule_id, "value": e.value}
            for e in result.events
            if e.kind is EventKind.CLEARED
        ]

        def push() -> None:
            for p in alert_payloads:
                send_now(board_group(site_id), p)
                send_now(site_group(site_id), p)
            for t in toasts:
                send_now(bedside, t)
            for c in cleared:
                send_now(board_group(site_id), c)
            if vitals is not None:
                send_now(board_group(site_id), vitals)
                # The run sheet's flowsheet redraws from the stored readings (grid and chart).
                send_now(
                    site_group(site_id), {"type": "session_vitals", "session": session.pk, "source": "sensor"}
                )

        transaction.on_commit(push)
    _maybe_escalate()
    return result


# ------------------------------------------------------------------------------------------------ alerts


def do_acknowledge_alert(
    *, actor: User, alert: MonitoringAlert, action: str, note: str = ""
) -> MonitoringAlert:
    """Acknowledge an alert with the action taken (and a note, required for 'other' and 'treated')."""
    clinic_id = alert.session.clinic_id
    if not (
        has_perm_in_clinic(actor, clinic_id, Perm.SESSION_RUN)
        or has_perm_in_clinic(actor, clinic_id, Perm.ALERT_ACKNOWLEDGE)
    ):
        raise PermissionDeniedError("you may not acknowledge monitoring alerts in this clinic")
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if action not in MonitoringAlert.AckAction.values:
        errors["action"] = [f"must be one of {', '.join(MonitoringAlert.AckAction.values)}"]
    elif action in (MonitoringAlert.AckAction.OTHER, MonitoringAlert.AckAction.TREATED) and not note:
        errors["note"] = [f"required when the action is {action}"]
    if len(note) > 500:
        errors["note"] = ["at most 500 characters"]
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    with transaction.atomic():
        n = MonitoringAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=actor, ack_action=action, ack_note=note
        )
        if n == 0:
            raise ConflictError(
                "the alert is already acknowledged", fields={"alert": ["already acknowledged"]}
            )
        alert.refresh_from_db()
        record_audit(
            actor=actor, action=AuditAction.MONITORING_ALERT_ACKNOWLEDGE, obj=alert, clinic=alert.session.clinic,
            patient=alert.session.patient, detail={"rule_id": alert.rule_id, "action": action, "note": note},
        )  # fmt: skip
        payload = alert_event(alert, kind="alert_ack")
        gone = {"type": "alert_ack", "key": f"sensor-{alert.pk}"}
        transaction.on_commit(lambda: send_now(board_group(alert.site_id), payload))
        transaction.on_commit(lambda: send_now(bedside_group(clinic_id), gone))
    return alert


def do_escalate_overdue_alerts(*, now: datetime | None = None) -> list[MonitoringAlert]:
    """Escalate every unacknowledged alert older than its severity's acknowledgement window.

    Marks it escalated (once), writes an audit row, and pushes it again to the board, to the site's and the
    clinic's live groups (prescribers see it wherever they are).
    """
    now = now or timezone.now()
    rs = ENGINE.ruleset()
    out: list[MonitoringAlert] = []
    for sev in Severity:
        deadline = now - timedelta(seconds=rs.escalation.due_after(sev))
        candidates = MonitoringAlert.objects.filter(
            severity=sev.value,
            acknowledged_at__isnull=True,
            escalated_at__isnull=True,
            raised_at__lte=deadline,
        ).select_related("session", "session__clinic", "session__patient")
        for a in candidates:
            with transaction.atomic():
                if not MonitoringAlert.objects.filter(
                    pk=a.pk, escalated_at__isnull=True, acknowledged_at__isnull=True
                ).update(escalated_at=now):
                    continue
                a.escalated_at = now
                record_audit(
                    actor="system", action=AuditAction.MONITORING_ALERT_ESCALATE, obj=a, clinic=a.session.clinic,
                    patient=a.session.patient,
                    detail={"rule_id": a.rule_id, "severity": a.severity,
                            "unacknowledged_for_s": round((now - a.raised_at).total_seconds())},
                )  # fmt: skip
                payload = alert_event(a, kind="alert")
                payload["escalated"] = True
                payload["text"] = (
                    f"ESCALATED (not acknowledged in {rs.escalation.due_after(sev):g} s): {a.message}"
                )
                clinic_id = a.session.clinic_id

                def push(p: dict[str, Any] = payload, site_id: int = a.site_id, cid: int = clinic_id) -> None:
                    send_now(board_group(site_id), p)
                    send_now(site_group(site_id), p)
                    send_now(clinic_group(cid), p)

                transaction.on_commit(push)
            out.append(a)
    return out


_last_escalation_check = [0.0]
ESCALATION_CHECK_EVERY_S = 5.0


def _maybe_escalate() -> None:
    """Run the escalation check at most every few seconds per process (a management loop runs it too)."""
    t = time.monotonic()
    if t - _last_escalation_check[0] < ESCALATION_CHECK_EVERY_S:
        return
    _last_escalation_check[0] = t
    do_escalate_overdue_alerts()
