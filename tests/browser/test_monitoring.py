"""The monitoring nurse's live board: a sensor's reading crosses a threshold and the alert appears at once.

The session and the attached device are prepared in the server's database; the readings arrive over the
real ingestion API with the device's token, and the board receives them over its WebSocket."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

SETUP = """
import datetime as dt, json
from django.utils import timezone
from ketaclinic.web.accounts.models import User
from ketaclinic.web.monitoring.actions import do_attach_device, do_register_device
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

kim, patel = User.objects.get(username="nurse.kim"), User.objects.get(username="dr.patel")
now = timezone.now()
p = Patient.objects.filter(clinic__slug="riverside-demo", home_site__isnull=False).order_by("-pk").first()
from ketaclinic.core.protocols import get_protocol
protocol = get_protocol("iv-racemic-depression")  # the course's snapshot, as do_start_course stores it (run sheet)
course = TreatmentCourse.objects.create(clinic=p.clinic, patient=p, protocol_id=protocol.id,
    protocol_version=protocol.version, protocol_snapshot=dict(protocol.raw), indication="TRD", started_by=patel,
    started_at=now - dt.timedelta(days=1))
s = DosingSession.objects.create(clinic=p.clinic, site=p.home_site, patient=p, course=course,
    status=DosingSession.Status.MONITORING, scheduled_for=now - dt.timedelta(hours=1),
    checked_in_at=now - dt.timedelta(minutes=50), first_dose_at=now - dt.timedelta(minutes=38))
device, token = do_register_device(actor=kim, site=p.home_site, label="Wrist B7", serial="BROWSER-B7")
do_attach_device(actor=kim, device=device, session=s)
print(json.dumps({"site": p.home_site_id, "session": s.pk, "device": device.pk, "token": token,
                  "name": p.given_name + " " + p.family_name}))
"""


def _post(url: str, token: str, readings: list[dict[str, Any]]) -> dict[str, Any]:
    req = urllib.request.Request(
        url + "/api/v1/monitoring/ingest", data=json.dumps({"readings": readings}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_alert_appears_on_the_board(page: Any, live_url: str, live_home: str) -> None:
    info = json.loads(run_in_server_env(live_home, SETUP).strip().splitlines()[-1])
    login(page, live_url, "nurse.kim")
    page.goto(f"{live_url}/monitoring/sites/{info['site']}/board/")
    card = page.locator(f"#session-{info['session']}")
    expect(card).to_contain_text(info["name"])
    expect(page.locator("#board-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#no-alerts")).to_be_visible()

    now = dt.datetime.now(tz=dt.UTC)

    def r(seq: int, code: str, value: float, unit: str, ago: float) -> dict[str, Any]:
        return {"device": str(info["device"]), "session": str(info["session"]), "metric": code, "value": value,
                "unit": unit, "time": (now - dt.timedelta(seconds=ago)).isoformat(), "seq": seq}  # fmt: skip

    body = _post(live_url, info["token"], [r(1, "8480-6", 160, "mm[Hg]", 3), r(2, "8867-4", 88, "/min", 3)])
    assert (body["stored"], body["alerts"]) == (2, [])
    expect(card.locator('[data-metric="hr"] .v')).to_have_text("88")

    body = _post(live_url, info["token"], [r(3, "8480-6", 192, "mm[Hg]", 1)])
    assert [a["rule_id"] for a in body["alerts"]] == ["sbp-high"]
    alert = page.locator('#alerts li[data-rule="sbp-high"]')
    expect(alert).to_be_visible(timeout=5000)
    expect(alert).to_contain_text("SBP above 180 mmHg: now 192 mmHg")
    expect(alert).to_contain_text(info["name"])
    expect(card).to_have_class("pt alerting")
    expect(card.locator('[data-metric="sbp"] .v')).to_have_text("192")

    alert.get_by_label("Action taken").select_option("reassessed")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(page.locator('#alerts li[data-rule="sbp-high"]')).to_have_count(0)
    expect(page.locator("#no-alerts")).to_be_visible()

    # The session's run sheet shows the attached sensor and its readings on the flowsheet, marked as sensor:
    # one row per 5-minute interval (epoch // 300) with the median of each vital sign; no diastolic was sent.
    page.goto(f"{live_url}/treatment/sessions/{info['session']}/")
    expect(page.locator("#attached-devices")).to_contain_text("Wrist B7 (BROWSER-B7) attached")
    rows = page.locator('#flowsheet tr[data-source="sensor"]')
    bucket = lambda ago: int((now - dt.timedelta(seconds=ago)).timestamp()) // 300  # noqa: E731
    if bucket(3) == bucket(1):
        expected = [("176/–", "88", "median of 3")]  # SBP median of 160 and 192
    else:  # the readings straddle an interval boundary
        expected = [("160/–", "88", "median of 2"), ("192/–", "", "median of 1")]
    expect(rows).to_have_count(len(expected))
    for i, (bp, hr, count) in enumerate(expected):
        row = rows.nth(i)
        expect(row.locator(".badge.sensor")).to_have_text("sensor")
        expect(row.locator("td").nth(2)).to_have_text(bp)
        expect(row.locator("td").nth(3)).to_have_text(hr)
        expect(row).to_contain_text(f"Wrist B7 · {count}")


def test_board_reloads_its_snapshot_after_a_reconnect(page: Any, live_url: str, live_home: str) -> None:
    """An alert pushed while the board's socket was down appears once the board reconnects."""
    import re

    setup = SETUP.replace("BROWSER-B7", "BROWSER-R1").replace("Wrist B7", "Wrist R1")
    info = json.loads(run_in_server_env(live_home, setup).strip().splitlines()[-1])
    deaf = [False]
    routes: list[Any] = []

    def handle(ws: Any) -> None:
        server = ws.connect_to_server()
        if not routes:  # the first connection: forwards until the test makes it deaf
            server.on_message(lambda m: None if deaf[0] else ws.send(m))
        routes.append(ws)

    page.route_web_socket(re.compile(r".*/ws/monitoring/board/.*"), handle)
    login(page, live_url, "nurse.kim")
    page.goto(f"{live_url}/monitoring/sites/{info['site']}/board/")
    status = page.locator("#board-status")
    expect(status).to_have_attribute("data-state", "live")
    deaf[0] = True  # the connection silently loses what the server pushes (a half-dead socket)
    now = dt.datetime.now(tz=dt.UTC)
    body = _post(live_url, info["token"], [{
        "device": str(info["device"]), "session": str(info["session"]), "metric": "8480-6", "value": 195,
        "unit": "mm[Hg]", "time": (now - dt.timedelta(seconds=1)).isoformat(), "seq": 1}])  # fmt: skip
    assert [a["rule_id"] for a in body["alerts"]] == ["sbp-high"]
    alert = page.locator(f'#alerts li[data-rule="sbp-high"][data-session="{info["session"]}"]')
    page.wait_for_timeout(1500)
    expect(alert).to_have_count(0)  # the push was lost
    routes[0].close()  # the socket drops; the board reconnects and reloads its snapshot
    expect(status).to_have_attribute("data-reloads", "1", timeout=15000)
    expect(status).to_have_attribute("data-state", "live")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("SBP above 180 mmHg: now 195 mmHg")
    assert len(routes) == 2
