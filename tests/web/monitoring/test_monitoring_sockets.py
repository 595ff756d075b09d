"""WebSockets: a device streams batches and gets per-batch acknowledgements; the board receives alerts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from tests.web.monitoring.monitoring_helpers import reading

from ketaclinic.web.monitoring.consumers import BoardConsumer, DeviceStreamConsumer
from ketaclinic.web.monitoring.models import Device, SensorReading
from ketaclinic.web.treatment.models import DosingSession

# Not transactional: database_sync_to_async is thread-sensitive, so consumers share the test's connection
# (and its rolled-back transaction); on-commit pushes are run with django_capture_on_commit_callbacks.
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels closes "old" connections around each DB call; in a test that is the test's own connection."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def test_device_stream_acknowledges_each_batch(attached: Device, session: DosingSession, token: str) -> None:
    async def run() -> list[dict[str, Any]]:
        comm = WebsocketCommunicator(DeviceStreamConsumer.as_asgi(), "/ws/monitoring/ingest/",
                                     headers=[(b"authorization", f"Bearer {token}".encode())])  # fmt: skip
        ok, _ = await comm.connect()
        assert ok
        replies = []
        await comm.send_to(
            text_data=json.dumps({"id": "b1", "readings": [reading(attached, session, seq=1, ago_s=1)]})
        )
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.send_to(
            text_data=json.dumps({"id": "b2", "readings": [reading(attached, session, seq=1, ago_s=1)]})
        )
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.send_to(text_data="{broken")
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.disconnect()
        return replies

    r = async_to_sync(run)()
    assert (r[0]["id"], r[0]["stored"], r[0]["duplicates"]) == ("b1", 1, 0)
    assert (r[1]["id"], r[1]["stored"], r[1]["duplicates"]) == ("b2", 0, 1)
    assert r[2]["error"]["code"] == "validation_failed"
    assert SensorReading.objects.count() == 1


def test_device_stream_refuses_bad_token() -> None:
    async def run() -> bool:
        comm = WebsocketCommunicator(DeviceStreamConsumer.as_asgi(), "/ws/monitoring/ingest/",
                                     headers=[(b"authorization", b"Bearer kcd_nope")])  # fmt: skip
        ok, _ = await comm.connect()
        return bool(ok)

    assert async_to_sync(run)() is False


def test_board_socket_receives_the_alert(
    attached: Device, session: DosingSession, token: str, nurse: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from ketaclinic.web.monitoring.actions import do_ingest_readings

    def ingest() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            do_ingest_readings(device=attached, items=[reading(attached, session, value=199, seq=5, ago_s=1)])

    async def run() -> dict[str, Any]:
        comm = WebsocketCommunicator(BoardConsumer.as_asgi(), f"/ws/monitoring/board/{attached.site_id}/")
        comm.scope["user"] = nurse
        comm.scope["url_route"] = {"kwargs": {"site_id": attached.site_id}}
        ok, _ = await comm.connect()
        assert ok
        from channels.db import database_sync_to_async

        await database_sync_to_async(ingest)()
        msgs = [await comm.receive_json_from(timeout=10), await comm.receive_json_from(timeout=10)]
        await comm.disconnect()
        return next(m for m in msgs if m["type"] == "alert")

    alert = async_to_sync(run)()
    assert (alert["rule_id"], alert["session"], alert["value"]) == ("sbp-high", session.pk, 199.0)


def test_devices_connect_through_the_real_app_without_an_origin_but_browsers_need_one(
    attached: Device, session: DosingSession, token: str
) -> None:
    """Devices are not browsers: the ingestion socket takes a device token and no Origin header."""
    from ketaclinic.web.config.asgi import application

    async def run() -> tuple[bool, dict[str, Any], bool, bool]:
        dev = WebsocketCommunicator(application, "/ws/monitoring/ingest/",
                                    headers=[(b"authorization", f"Bearer {token}".encode())])  # fmt: skip
        dev_ok, _ = await dev.connect()
        await dev.send_to(
            text_data=json.dumps({"id": 1, "readings": [reading(attached, session, seq=9, ago_s=1)]})
        )
        reply = await dev.receive_json_from(timeout=10)
        await dev.disconnect()
        no_token = WebsocketCommunicator(application, "/ws/monitoring/ingest/")
        no_token_ok, _ = await no_token.connect()
        board = WebsocketCommunicator(application, f"/ws/monitoring/board/{attached.site_id}/")
        board_ok, _ = await board.connect()  # no Origin: a cross-site page could be riding a session cookie
        return bool(dev_ok), reply, bool(no_token_ok), bool(board_ok)

    dev_ok, reply, no_token_ok, board_ok = async_to_sync(run)()
    assert dev_ok and (reply["id"], reply["stored"], reply["rejected"]) == (1, 1, [])
    assert (no_token_ok, board_ok) == (False, False)
    assert list(SensorReading.objects.values_list("seq", flat=True)) == [9]
