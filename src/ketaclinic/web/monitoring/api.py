"""API router of the monitoring app (mounted at /api/v1/monitoring/): devices, ingestion, board, alerts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import HttpBearer

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.jsonlimits import loads_limited
from ketaclinic.web.access import (
    access_alert_by_id,
    access_device_by_id,
    access_session_by_id,
    access_site_by_id,
)
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.api_errors import DEVICE_ERRORS, READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.monitoring import actions, selectors
from ketaclinic.web.monitoring.models import Device

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Site

router = Router(tags=["monitoring"])


class DeviceTokenAuth(HttpBearer):
    """`Authorization: Bearer kcd_...`: a device's own token (revoked devices are refused)."""

    def authenticate(self, request: HttpRequest, token: str) -> Device | None:
        return actions.authenticate_device(token)


def parse_batch(body: bytes) -> list[Any]:
    """A batch is {"readings": [...]}, a bare list, or a FHIR Bundle of Observations."""
    try:
        data = loads_limited(body or b"null", max_bytes=settings.KETACLINIC_MAX_BODY_BYTES)
    except ValueError as exc:
        raise ValidationFailed({"body": [str(exc)]}) from None
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        entries = data.get("entry")
        if not isinstance(entries, list):
            raise ValidationFailed({"entry": ["a Bundle needs an entry list"]})
        return [e.get("resource") if isinstance(e, dict) else e for e in entries]
    if isinstance(data, dict) and data.get("resourceType") == "Observation":
        return [data]
    if isinstance(data, dict) and isinstance(data.get("readings"), list):
        return list(data["readings"])
    raise ValidationFailed({"readings": ["required: a list of readings (or a FHIR Bundle of Observations)"]})


@router.post(
    "/ingest",
    response={200: dict[str, Any], **DEVICE_ERRORS},
    auth=DeviceTokenAuth(),
    summary="Ingest a batch of sensor readings",
)
def ingest(request: HttpRequest) -> dict[str, Any]:
    """Per-reading validation; good readings stored even if others fail; idempotent on (device, code, seq)."""
    arrived = time.time()
    device: Device = request.auth  # type: ignore[attr-defined]
    items = parse_batch(request.body)
    return actions.do_ingest_readings(device=device, items=items, arrived=arrived).as_response()


@router.get(
    "/devices/me",
    response={200: dict[str, Any], **DEVICE_ERRORS},
    auth=DeviceTokenAuth(),
    summary="The authenticated device and its session",
)
def device_me(request: HttpRequest) -> dict[str, Any]:
    device: Device = request.auth  # type: ignore[attr-defined]
    ctx, _session = actions.device_context(device)
    return {"device": device.key, "label": device.label, "site": device.site_id, "session": ctx.session_id}


class DeviceIn(Schema):
    site: int
    label: str
    serial: str
    kind: str = "wearable"


class DeviceOut(Schema):
    id: int
    site: int
    label: str
    serial: str
    kind: str
    token_prefix: str
    revoked: bool
    session: int | None = None


def _device_out(d: Device, session: int | None = None) -> dict[str, Any]:
    return {
        "id": d.pk, "site": d.site_id, "label": d.label, "serial": d.serial, "kind": d.kind,
        "token_prefix": d.token_prefix, "revoked": d.revoked_at is not None, "session": session,
    }  # fmt: skip


def _device_for(request: SignedInRequest, device_id: int) -> Device:
    d: Device = access_device_by_id(request.user, device_id, audit_action=None)  # the action audits
    return d


def _audit_read(request: SignedInRequest, action: str, site: Site, detail: dict[str, Any]) -> None:
    with transaction.atomic():
        record_audit(
            actor=request.user, action=action, obj=site, clinic=site.clinic, request=request, detail=detail
        )


@router.post(
    "/devices", response={201: dict, **WRITE_ERRORS}, summary="Register a device (the token is shown once)"
)
def register_device(request: SignedInRequest, payload: DeviceIn) -> tuple[int, dict[str, Any]]:
    site = access_site_by_id(request.user, payload.site, perm=Perm.DEVICE_MANAGE)
    device, raw = actions.do_register_device(
        actor=request.user, site=site, label=payload.label, serial=payload.serial, kind=payload.kind
    )
    return 201, {**_device_out(device), "token": raw}


@router.get("/sites/{site_id}/devices", response={200: list[DeviceOut], **READ_ERRORS})
def list_devices(request: SignedInRequest, site_id: int) -> list[dict[str, Any]]:
    site = access_site_by_id(request.user, site_id, perm=Perm.DEVICE_MANAGE)
    rows = selectors.devices_for_site(site)
    _audit_read(
        request,
        AuditAction.MONITORING_DEVICES_VIEW,
        site,
        {"devices": [r["device"].pk for r in rows], "via": "api"},
    )
    return [_device_out(r["device"], r["session"].pk if r["session"] else None) for r in rows]


class ReasonIn(Schema):
    reason: str = ""


class AttachIn(Schema):
    session: int


@router.post(
    "/devices/{device_id}/token",
    response={200: dict[str, Any], **WRITE_ERRORS},
    summary="Rotate a device's token",
)
def rotate_token(request: SignedInRequest, device_id: int) -> dict[str, Any]:
    d = _device_for(request, device_id)
    raw = actions.do_rotate_device_token(actor=request.user, device=d)
    return {**_device_out(d), "token": raw}


@router.post("/devices/{device_id}/revoke", response={200: DeviceOut, **WRITE_ERRORS})
def revoke_device(request: SignedInRequest, device_id: int, payload: ReasonIn) -> dict[str, Any]:
    d = _device_for(request, device_id)
    return _device_out(actions.do_revoke_device(actor=request.user, device=d, reason=payload.reason))


@router.post("/devices/{device_id}/attach", response={200: DeviceOut, **WRITE_ERRORS})
def attach_device(request: SignedInRequest, device_id: int, payload: AttachIn) -> dict[str, Any]:
    d = _device_for(request, device_id)
    try:
        session = access_session_by_id(
            request.user, payload.session, clinic=d.clinic_id, perm=Perm.DEVICE_MANAGE, audit_action=None
        )
    except NotFoundError:
        raise ValidationFailed({"session": [f"session {payload.session} not found in this clinic"]}) from None
    att = actions.do_attach_device(actor=request.user, device=d, session=session)
    return _device_out(d, att.session_id)


@router.post("/devices/{device_id}/detach", response={200: DeviceOut, **WRITE_ERRORS})
def detach_device(request: SignedInRequest, device_id: int, payload: ReasonIn) -> dict[str, Any]:
    d = _device_for(request, device_id)
    actions.do_detach_device(actor=request.user, device=d, reason=payload.reason)
    return _device_out(d)


@router.get(
    "/sites/{site_id}/board",
    response={200: dict[str, Any], **READ_ERRORS},
    summary="Live board snapshot: sessions, recent vitals, open alerts",
)
def board(request: SignedInRequest, site_id: int) -> dict[str, Any]:
    site = access_site_by_id(request.user, site_id)
    snapshot = selectors.board_snapshot(site)
    _audit_read(
        request,
        AuditAction.MONITORING_BOARD_VIEW,
        site,
        {"sessions": [s["id"] for s in snapshot["sessions"]], "via": "api"},
    )
    return snapshot


@router.get("/sites/{site_id}/alerts", response={200: list[dict[str, Any]], **READ_ERRORS})
def site_alerts(request: SignedInRequest, site_id: int, unacknowledged: bool = False) -> list[dict[str, Any]]:
    site = access_site_by_id(request.user, site_id)
    alerts = [
        selectors.alert_dict(a) for a in selectors.alerts_for_site(site, unacknowledged_only=unacknowledged)
    ]
    _audit_read(
        request, AuditAction.MONITORING_ALERTS_VIEW, site, {"alerts": [a["id"] for a in alerts], "via": "api"}
    )
    return alerts


class AckIn(Schema):
    action: str
    note: str = ""


@router.post("/alerts/{alert_id}/acknowledge", response={200: dict[str, Any], **WRITE_ERRORS})
def acknowledge(request: SignedInRequest, alert_id: int, payload: AckIn) -> dict[str, Any]:
    alert = access_alert_by_id(request.user, alert_id, audit_action=None)  # the acknowledgement is audited
    a = actions.do_acknowledge_alert(
        actor=request.user, alert=alert, action=payload.action, note=payload.note
    )
    return selectors.alert_dict(a)


@router.get("/sessions/{session_id}/sensor-vitals", response={200: list[dict[str, Any]], **READ_ERRORS})
def sensor_vitals(request: SignedInRequest, session_id: int, interval: int = 300) -> list[dict[str, Any]]:
    session = access_session_by_id(request.user, session_id, request=request)
    if not 10 <= interval <= 3600:
        raise ValidationFailed({"interval": ["must be between 10 and 3600 seconds"]})
    return [
        {**{k: getattr(r, k) for k in ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate",
                                       "readings", "source", "device_id")},
         "taken_at": r.taken_at.isoformat()}
        for r in selectors.sensor_vitals_for_flowsheet(session.pk, interval_seconds=interval)
    ]  # fmt: skip
