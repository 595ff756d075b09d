"""Two `ketaclinic serve` processes on different ports, sharing one PostgreSQL database and one Redis.

What a second host must not miss: a session signed in on one server works on the other; a lockout counted
on both under concurrent attempts holds on both; an alert raised on one reaches a board socket on the other,
also after that socket sat idle longer than the Redis read timeout; a session's alert rule state is right
whichever server receives a reading; escalation runs with no reading arriving, exactly once; a device
streams over WebSocket without a browser Origin header.

Needs KETACLINIC_TEST_POSTGRES=1 and KETACLINIC_TEST_REDIS=1 (REDIS_URL, default database 7).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from tests.web.conftest import PASSWORD
from tests.web.monitoring.monitoring_helpers import reading, series
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.monitoring.models import Device, MonitoringAlert
from ketaclinic.web.treatment.models import DosingSession

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SRC = Path(__file__).resolve().parents[3] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, port: int, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.log, self.proc = port, log, proc
        self.url = f"http://127.0.0.1:{port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[Server, Server]]:
    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    assert connection.vendor == "postgresql"
    home = tempfile.mkdtemp(prefix="kc-two-servers-")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"),
        "KETACLINIC_HOME": home,
        "KETACLINIC_TESTING": "1",  # the test's users have fast test hashes; rate limits are raised
        "KETACLINIC_ESCALATION_EVERY_S": "1",
        # The nurse signs in with a password only: two-factor sign-in is tested in test_two_factor.py.
        "KETACLINIC_2FA_ENFORCE": "0",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("KETACLINIC_PG_TEST_DB", None)
    env.pop("KETACLINIC_TEST_POSTGRES", None)
    started = []
    for name in ("a", "b"):
        port = _free_port()
        log = Path(home) / f"server-{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.cli", "serve", "--dev", "--port", str(port), "--workers", "1"],
            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        started.append(Server(port, log, proc))
    try:
        for srv in started:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{srv.url}/accounts/login/", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert srv.proc.poll() is None, srv.log_text()
                assert time.monotonic() < deadline, f"server did not start:\n{srv.log_text()}"
                time.sleep(0.5)
        yield started[0], started[1]
    finally:
        for srv in started:
            srv.proc.terminate()
        for srv in started:
            try:
                srv.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                srv.proc.kill()


def _sign_in(srv: Server, username: str, password: str = PASSWORD) -> httpx.Response:
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        c.get("/accounts/login/")
        return c.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": c.cookies["csrftoken"]},
        )


def _session_cookie(srv: Server, username: str) -> str:
    r = _sign_in(srv, username)
    assert r.status_code == 302, r.text[:500]
    return str(r.cookies["sessionid"])


def _ingest(srv: Server, token: str, readings: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(f"{srv.url}/api/v1/monitoring/ingest", json={"readings": readings},
                   headers={"Authorization": f"Bearer {token}"}, timeout=20)  # fmt: skip
    assert r.status_code == 200, r.text
    return dict(r.json())


def _board(srv: Server, site_id: int, sessionid: str) -> ClientConnection:
    return ws_connect(
        f"ws://127.0.0.1:{srv.port}/ws/monitoring/board/{site_id}/",
        additional_headers={"Cookie": f"sessionid={sessionid}"}, origin=f"http://127.0.0.1:{srv.port}",  # type: ignore[arg-type]
        open_timeout=20,
    )  # fmt: skip


def _events(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every event the socket receives within `seconds`."""
    out: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            out.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return out


def _wait_for(ws: ClientConnection, pred: Any, seconds: float = 10) -> dict[str, Any]:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ev = json.loads(ws.recv(timeout=left))
        if pred(ev):
            return dict(ev)
    raise AssertionError("event did not arrive")


def _tracebacks(*srvs: Server) -> list[str]:
    return [
        line for s in srvs for line in s.log_text().splitlines() if "Traceback" in line or "Error" in line
    ]


def test_a_session_and_a_lockout_hold_across_servers(servers: tuple[Server, Server], nurse: User) -> None:
    a, b = servers
    cookie = _session_cookie(a, "nurse")
    r = httpx.get(f"{b.url}/patients/", cookies={"sessionid": cookie}, timeout=20)
    assert r.status_code == 200 and "Sign in" not in r.text[:2000]

    def wrong(srv: Server) -> int:
        return _sign_in(srv, "nurse", "not-the-password").status_code

    results: list[int] = []
    threads = [threading.Thread(target=lambda s=srv: results.append(wrong(s))) for srv in (a, b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) == [400]
    nurse.refresh_from_db()
    assert nurse.locked_until is not None and nurse.locked_until > timezone.now()
    for srv in (a, b):  # the right password is refused on both servers while locked
        r = _sign_in(srv, "nurse")
        assert r.status_code == 400 and "temporarily locked" in r.text
    assert AuditEvent.objects.filter(action="auth.login", object_id=str(nurse.pk)).count() == 1


def test_an_idle_board_socket_survives_and_gets_an_alert_raised_on_the_other_server(
    servers: tuple[Server, Server], nurse: User, attached: Device, session: DosingSession, token: str
) -> None:
    a, b = servers
    before = len(_tracebacks(a, b))
    with _board(b, attached.site_id, _session_cookie(a, "nurse")) as ws:
        # Idle for longer than redis-py's 5 s default read timeout and the layer's 5 s blocking pop, twice.
        assert _events(ws, 12) == []
        sent = time.monotonic()
        body = _ingest(a, token, [reading(attached, session, value=199, seq=1, ago_s=1)])
        assert [x["rule_id"] for x in body["alerts"]] == ["sbp-high"]
        ev = _wait_for(ws, lambda e: e["type"] == "alert")
        latency = time.monotonic() - sent
        assert (ev["rule_id"], ev["session"], ev["severity"]) == ("sbp-high", session.pk, "critical")
        assert latency < 5
    assert _tracebacks(a, b)[before:] == []


def test_rule_state_is_right_whichever_server_receives_the_reading(
    servers: tuple[Server, Server], attached: Device, session: DosingSession, token: str
) -> None:
    """The issue's reproduction: an alert cleared on B, then a new fever on A must alert."""
    a, b = servers
    t0 = timezone.now() - dt.timedelta(minutes=10)
    temps = lambda vals, start_s, seq0: series(attached, session, "8310-5", "Cel", vals,  # noqa: E731
                                               start=t0 + dt.timedelta(seconds=start_s), seq0=seq0)  # fmt: skip
    assert [x["kind"] for x in _ingest(a, token, temps([38.9], 0, 1))["alerts"]] == ["fired"]
    assert [x["kind"] for x in _ingest(b, token, temps([37.0] * 31, 1, 2))["alerts"]] == ["cleared"]
    fired = [x["kind"] for x in _ingest(a, token, temps([38.9, 39.0, 39.1], 100, 40))["alerts"]]
    assert fired == ["fired"]
    alerts = list(MonitoringAlert.objects.order_by("pk").values_list("rule_id", "cleared_at"))
    assert [(r, c is None) for r, c in alerts] == [("temp-high", False), ("temp-high", True)]
    # HR > 110 held for 30 s, one reading a second, alternating servers: fires once, at 30 s.
    fired_at = []
    for i in range(35):
        srv = (a, b)[i % 2]
        batch = series(attached, session, "8867-4", "/min", [125.0], start=t0 + dt.timedelta(seconds=200 + i),
                       seq0=100 + i)  # fmt: skip
        fired_at += [i for x in _ingest(srv, token, batch)["alerts"] if x["rule_id"] == "hr-high"]
    assert fired_at == [30]


def test_escalation_runs_without_readings_exactly_once(
    servers: tuple[Server, Server], nurse: User, attached: Device, session: DosingSession, token: str
) -> None:
    a, b = servers
    cookie = _session_cookie(a, "nurse")
    body = _ingest(a, token, [reading(attached, session, value=199, seq=1, ago_s=1)])
    assert [x["rule_id"] for x in body["alerts"]] == ["sbp-high"]
    with _board(a, attached.site_id, cookie) as ws_a, _board(b, attached.site_id, cookie) as ws_b:
        # The sensor goes silent; the alert was raised long enough ago to be overdue (critical: 60 s).
        MonitoringAlert.objects.update(raised_at=timezone.now() - dt.timedelta(minutes=5))
        deadline = time.monotonic() + 15
        while MonitoringAlert.objects.get().escalated_at is None:
            assert time.monotonic() < deadline, "no server escalated the alert"
            time.sleep(0.2)
        pushed = [e for ws in (ws_a, ws_b) for e in _events(ws, 4) if e.get("escalated")]
    assert AuditEvent.objects.filter(action="monitoring.alert.escalate").count() == 1
    assert [(e["rule_id"], e["session"]) for e in pushed] == [("sbp-high", session.pk)] * 2  # once per board
    assert re.match(r"ESCALATED \(not acknowledged in 60 s\)", pushed[0]["text"])


def test_a_device_streams_over_websocket_without_an_origin_header(
    servers: tuple[Server, Server], attached: Device, session: DosingSession, token: str
) -> None:
    _, b = servers
    with ws_connect(f"ws://127.0.0.1:{b.port}/ws/monitoring/ingest/",
                    additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=20) as ws:  # fmt: skip
        ws.send(json.dumps({"id": "b1", "readings": [reading(attached, session, seq=7, ago_s=1)]}))
        reply = json.loads(ws.recv(timeout=20))
    assert (reply["id"], reply["stored"], reply["rejected"]) == ("b1", 1, [])
