"""Devices: registration with a hashed token, rotation, revocation, attachment to a session, detachment."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.models import Device, DeviceAttachment
from ketaclinic.web.treatment.models import DosingSession


def _me(token: str) -> int:
    return Client().get("/api/v1/monitoring/devices/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_register_stores_only_the_digest(nurse: Any, site: Any) -> None:
    device, raw = actions.do_register_device(actor=nurse, site=site, label="Wrist", serial="S-1")
    assert raw.startswith("kcd_") and len(raw) > 40
    assert device.token_digest == Device.digest_of(raw) and raw not in device.token_digest
    assert device.token_prefix == raw[:12]
    assert not Device.objects.filter(token_digest=raw).exists()
    ev = AuditEvent.objects.get(action="device.register")
    assert raw not in str(ev.detail) and ev.detail["serial"] == "S-1"
    assert _me(raw) == 200


def test_register_via_api_and_refusals(nurse: Any, front_desk: Any, site: Any, client_as: Any) -> None:
    r = client_as(nurse).post("/api/v1/monitoring/devices", data={"site": site.pk, "label": "Bed 3", "serial": "B-3", "kind": "bedside"},
                              content_type="application/json")  # fmt: skip
    assert r.status_code == 201
    assert (r.json()["serial"], r.json()["kind"], r.json()["revoked"]) == ("B-3", "bedside", False)
    assert _me(r.json()["token"]) == 200
    dup = client_as(nurse).post("/api/v1/monitoring/devices", data={"site": site.pk, "label": "X", "serial": "B-3"},
                                content_type="application/json")  # fmt: skip
    assert dup.status_code == 400
    assert dup.json()["error"]["fields"] == {
        "serial": ["a device with serial 'B-3' is already registered in this clinic"]
    }
    with pytest.raises(ValidationFailed) as exc:
        actions.do_register_device(actor=nurse, site=site, label="", serial="", kind="implant")
    assert exc.value.fields == {
        "label": ["required"],
        "serial": ["required"],
        "kind": ["must be one of wearable, bedside"],
    }
    with pytest.raises(PermissionDeniedError):
        actions.do_register_device(actor=front_desk, site=site, label="Y", serial="Y-1")
    assert Device.objects.count() == 1
    assert AuditEvent.objects.filter(action="device.register").count() == 1


def test_rotate_and_revoke(nurse: Any, site: Any, device_and_token: tuple[Device, str]) -> None:
    device, old = device_and_token
    new = actions.do_rotate_device_token(actor=nurse, device=device)
    assert (_me(old), _me(new)) == (401, 200)
    with pytest.raises(ValidationFailed):
        actions.do_revoke_device(actor=nurse, device=device, reason="")
    actions.do_revoke_device(actor=nurse, device=device, reason="lost on ward")
    assert _me(new) == 401
    with pytest.raises(ConflictError):
        actions.do_revoke_device(actor=nurse, device=device, reason="again")
    with pytest.raises(ConflictError):
        actions.do_rotate_device_token(actor=nurse, device=device)
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="device.").order_by("pk")] == [
        "device.register", "device.rotate_token", "device.revoke",
    ]  # fmt: skip


def test_attach_detach_and_conflicts(nurse: Any, device: Device, session: DosingSession, make_session: Any,
                                     patient: Any, site: Any, other_clinic: Any) -> None:  # fmt: skip
    att = actions.do_attach_device(actor=nurse, device=device, session=session)
    assert att.detached_at is None
    second = make_session(patient, site)
    with pytest.raises(ConflictError) as exc:
        actions.do_attach_device(actor=nurse, device=device, session=second)
    assert exc.value.fields == {"device": [f"attached to session {session.pk}; detach it first"]}
    assert DeviceAttachment.objects.count() == 1
    actions.do_detach_device(actor=nurse, device=device, reason="moved")
    with pytest.raises(ConflictError):
        actions.do_detach_device(actor=nurse, device=device)
    actions.do_attach_device(actor=nurse, device=device, session=second)
    assert DeviceAttachment.objects.filter(detached_at__isnull=True).get().session_id == second.pk
    done = make_session(patient, site, status=DosingSession.Status.DISCHARGED)
    actions.do_detach_device(actor=nurse, device=device)
    with pytest.raises(ConflictError) as exc:
        actions.do_attach_device(actor=nurse, device=device, session=done)
    assert exc.value.fields == {"session": ["status discharged does not take a device"]}
    assert [e.action for e in AuditEvent.objects.filter(action__in=["device.attach", "device.detach"]).order_by("pk")] == [
        "device.attach", "device.detach", "device.attach", "device.detach",
    ]  # fmt: skip


def test_detach_session_devices_at_discharge(nurse: Any, attached: Device, session: DosingSession) -> None:
    assert actions.do_detach_session_devices(actor=nurse, session=session) == 1
    assert DeviceAttachment.objects.get().detach_reason == "discharged"
    assert actions.do_detach_session_devices(actor=nurse, session=session) == 0


def test_devices_page(nurse: Any, site: Any, session: DosingSession, client_as: Any) -> None:
    c = client_as(nurse)
    r = c.post(
        f"/monitoring/sites/{site.pk}/devices/",
        {"op": "register", "label": "W9", "serial": "W-9", "kind": "wearable"},
    )
    assert r.status_code == 200 and b"new-token" in r.content
    d = Device.objects.get(serial="W-9")
    r = c.post(
        f"/monitoring/sites/{site.pk}/devices/", {"op": "attach", "device": d.pk, "session": session.pk}
    )
    assert r.status_code == 302
    assert DeviceAttachment.objects.get(device=d).session_id == session.pk
    r = c.post(f"/monitoring/sites/{site.pk}/devices/", {"op": "register", "label": "", "serial": "W-9"})
    assert r.status_code == 400 and b"label" in r.content
    assert Device.objects.count() == 1
