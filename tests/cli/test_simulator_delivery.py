"""`simulate-devices` against a server keeps retrying a batch through a restart and reports batches it could not
deliver as not delivered (never as sent)."""

from __future__ import annotations

import asyncio
import json

import httpx

from ketaclinic.cli.devices import INGEST_PATH, WHOAMI_PATH, _drive


def _server(fail_first: int) -> tuple[httpx.MockTransport, list[int]]:
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == WHOAMI_PATH:
            return httpx.Response(200, json={"device": "d1", "session": "7"})
        assert request.url.path == INGEST_PATH
        calls.append(1)
        if len(calls) <= fail_first:
            return httpx.Response(503, text="restarting")
        n = len(json.loads(request.content)["readings"])
        return httpx.Response(200, json={"stored": n, "duplicates": 0, "rejected": [], "alerts": []})

    return httpx.MockTransport(handle), calls


def _run(transport: httpx.MockTransport, retry_s: float) -> dict[str, object]:
    return asyncio.run(
        _drive("http://sim.test", ["kcd_x"], 1.0, 0.5, 1, 0.0, True, retry_s=retry_s, transport=transport)
    )


def test_a_batch_is_retried_through_a_restart_and_delivered() -> None:
    transport, calls = _server(fail_first=3)
    out = _run(transport, retry_s=5.0)
    assert len(calls) == 4
    assert (out["undelivered_batches"], out["failed_batches"]) == (0, 0)
    assert out["sent"] == out["stored"] and out["sent"] > 0


def test_a_batch_never_acknowledged_is_reported_undelivered() -> None:
    transport, calls = _server(fail_first=10_000)
    out = _run(transport, retry_s=0.5)
    assert len(calls) >= 3
    assert out["undelivered_batches"] == 1 and out["undelivered_readings"] > 0
    assert out["sent"] == 0 and out["stored"] == 0
    assert out["errors"] == ["batch not delivered after 0.5 s of retries"]
