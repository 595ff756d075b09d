"""Live sockets join only the groups the user's role may read, and close when access ends: sign-out,
deactivation, a revoked membership; a device socket closes when its token is rotated or the device revoked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from ketaclinic.web.accounts import staff
from ketaclinic.web.accounts.models import Membership
from ketaclinic.web.lib.consumers import LiveConsumer
from ketaclinic.web.lib.live import bedside_group, clinic_group, site_group, user_group
from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.consumers import DeviceStreamConsumer
from ketaclinic.web.monitoring.models import Device

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def _closes_after(comm: WebsocketCommunicator, change: Callable[[], Any], capture: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        ok, _ = await comm.connect()
        assert ok

        def sync_change() -> None:
            with capture(execute=True):
                change()

        await database_sync_to_async(sync_change)()
        out = await comm.receive_output(timeout=10)
        await comm.disconnect()
        return dict(out)

    return async_to_sync(run)()


def _live(user: Any) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    comm.scope["user"] = user
    return comm


def test_front_desk_socket_joins_only_its_own_group(
    front_desk: Any, nurse: Any, clinic: Any, site: Any
) -> None:
    fd = async_to_sync(LiveConsumer()._groups_for)(front_desk)
    nu = async_to_sync(LiveConsumer()._groups_for)(nurse)
    assert fd == [user_group(front_desk.pk)]
    # The nurse may act on session and sensor alerts: the clinic's bedside group (alert toasts) too.
    assert nu == [
        user_group(nurse.pk),
        clinic_group(clinic.pk),
        bedside_group(clinic.pk),
        site_group(site.pk),
    ]


def test_deactivation_closes_the_users_socket(
    nurse: Any, admin_user: Any, clinic: Any, django_capture_on_commit_callbacks: Any
) -> None:
    out = _closes_after(
        _live(nurse),
        lambda: staff.do_deactivate_user(actor=admin_user, clinic=clinic, user_id=nurse.pk),
        django_capture_on_commit_callbacks,
    )
    assert out == {"type": "websocket.close", "code": 4401}


def test_revoked_membership_closes_the_users_socket(
    nurse: Any, admin_user: Any, clinic: Any, django_capture_on_commit_callbacks: Any
) -> None:
    m = Membership.objects.get(user=nurse)
    out = _closes_after(
        _live(nurse),
        lambda: staff.do_revoke_role(actor=admin_user, clinic=clinic, membership_id=m.pk),
        django_capture_on_commit_callbacks,
    )
    assert out == {"type": "websocket.close", "code": 4401}


def test_sign_out_closes_the_users_socket(nurse: Any, django_capture_on_commit_callbacks: Any) -> None:
    from django.test import RequestFactory

    from ketaclinic.web.accounts.actions import do_record_sign_out

    out = _closes_after(
        _live(nurse),
        lambda: do_record_sign_out(user=nurse, request=RequestFactory().post("/accounts/logout/")),
        django_capture_on_commit_callbacks,
    )
    assert out == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("change", ["rotate", "revoke"])
def test_device_socket_closes_on_token_rotation_and_revocation(
    device: Device, token: str, nurse: Any, change: str, django_capture_on_commit_callbacks: Any
) -> None:
    comm = WebsocketCommunicator(DeviceStreamConsumer.as_asgi(), "/ws/monitoring/ingest/",
                                 headers=[(b"authorization", f"Bearer {token}".encode())])  # fmt: skip

    def act() -> None:
        if change == "rotate":
            actions.do_rotate_device_token(actor=nurse, device=device)
        else:
            actions.do_revoke_device(actor=nurse, device=device, reason="lost")

    out = _closes_after(comm, act, django_capture_on_commit_callbacks)
    assert out == {"type": "websocket.close", "code": 4401}
