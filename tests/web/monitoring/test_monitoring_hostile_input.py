"""Hostile vitals input: every bad field gets a per-reading rejection naming it, good readings are kept, and the
device's socket stays open and keeps storing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from tests.web.monitoring.monitoring_helpers import reading

from ketaclinic.web.monitoring.consumers import DeviceStreamConsumer
from ketaclinic.web.monitoring.models import Device, SensorReading
from ketaclinic.web.treatment.models import DosingSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def _post_raw(token: str, body: bytes) -> Any:
    return Client().post(
        "/api/v1/monitoring/ingest",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _bad(attached: Device, session: DosingSession) -> list[tuple[dict[str, Any], str]]:
    good = reading(attached, session, seq=1, ago_s=1)
    return [
        ({**good, "seq": 2, "value": 10**400}, "value"),
        ({**good, "seq": 3, "value": "128"}, "value"),
        ({**good, "seq": 4, "device": "dev\u0000ice"}, "device"),
        ({**good, "seq": 5, "session": ["x"]}, "session"),
        ({**good, "seq": "٣"}, "seq"),
        ({**good, "seq": 7, "time": "9999-12-31T23:59:59-23:59"}, "time"),
        ({**good, "seq": 8, "metric": {"a": 1}}, "metric"),
    ]


def test_http_batch_rejects_each_bad_field_and_keeps_the_good_reading(
    attached: Device, session: DosingSession, token: str
) -> None:
    bad = _bad(attached, session)
    items = [reading(attached, session, seq=1, ago_s=1)] + [b for b, _ in bad]
    r = _post_raw(token, json.dumps({"readings": items}).encode())
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["stored"] == 1
    fields = {rej["index"]: sorted(rej["fields"]) for rej in body["rejected"]}
    assert fields == {i + 1: [field] for i, (_, field) in enumerate(bad)}
    assert SensorReading.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, "body: is nested more than 32 levels deep"),
        (b'{"readings": [{"seq": ' + b"9" * 5000 + b"}]}", "body: not valid JSON"),
        (b'{"readings": "\xff"}', "body: not valid JSON"),
    ],
)
def test_http_hostile_bodies_get_a_400_naming_the_body(
    token: str, attached: Device, body: bytes, message: str
) -> None:
    r = _post_raw(token, body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["message"].startswith(message)


def test_socket_survives_hostile_batches_and_keeps_storing(
    attached: Device, session: DosingSession, token: str
) -> None:
    bad = _bad(attached, session)

    async def run() -> list[dict[str, Any]]:
        comm = WebsocketCommunicator(DeviceStreamConsumer.as_asgi(), "/ws/monitoring/ingest/",
                                     headers=[(b"authorization", f"Bearer {token}".encode())])  # fmt: skip
        ok, _ = await comm.connect()
        assert ok
        replies = []
        await comm.send_to(text_data="[" * 100_000)
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.send_to(text_data='{"id": "n", "readings": [{"seq": ' + "9" * 5000 + "}]}")
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.send_to(text_data=json.dumps({"id": "mixed", "readings": [b for b, _ in bad]}))
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.send_to(
            text_data=json.dumps({"id": "ok", "readings": [reading(attached, session, seq=1, ago_s=1)]})
        )
        replies.append(await comm.receive_json_from(timeout=10))
        await comm.disconnect()
        return replies

    r = async_to_sync(run)()
    assert r[0]["error"]["fields"] == {"body": ["is nested more than 32 levels deep"]}
    assert r[1]["error"]["code"] == "validation_failed" and "id" not in r[1]
    assert (r[2]["id"], r[2]["stored"], len(r[2]["rejected"])) == ("mixed", 0, len(bad))
    assert (r[3]["id"], r[3]["stored"]) == ("ok", 1)
    assert SensorReading.objects.count() == 1
