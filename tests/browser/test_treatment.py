"""A nurse runs a whole IV ketamine session and an esketamine session from check-in to discharge in the browser,
drawing each dose from the controlled-substance ledger (withdrawal, administration, the IV remainder wasted with a
witness who re-enters their password; discharge refused on screen until the session reconciles), and an early
esketamine discharge (under 2 h after the first device) is refused on screen.

The data (screening cleared, consent, course, signed order, scheduled session) is prepared through the real
actions in the server's database; the nurse's work is done through the pages only."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DEMO_PASSWORD, login, run_in_server_env

SETUP = """
import datetime as dt, json
from django.utils import timezone
from ketaclinic.web.accounts.models import User
from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.demo import clear_screening, consent_and_course
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

patel, okafor = User.objects.get(username="dr.patel"), User.objects.get(username="dr.okafor")
kim = User.objects.get(username="nurse.kim")
now = timezone.now()
free = [
    p for p in Patient.objects.filter(clinic__slug="riverside-demo", home_site__rems_certified=True).order_by("pk")
    if not TreatmentCourse.objects.filter(patient=p).exists() and p.latest_weight() is not None
    and not has_unacknowledged_suicide_alert(p)
]
out = {}
for key, patient, protocol, product, route in (
    ("iv", free[0], "iv-racemic-depression", "ketamine_racemic", "iv"),
    ("esk", free[1], "esketamine-trd", "esketamine_nasal", "intranasal"),
    ("esk_early", free[2], "esketamine-trd", "esketamine_nasal", "intranasal"),
):
    clear_screening(patient, patel, route, now - dt.timedelta(days=2), okafor)
    course = consent_and_course(patient, patel, protocol, product, now - dt.timedelta(days=1))
    order = A.do_sign_order(actor=patel, course_id=course.pk, planned_for=now)
    s = A.do_schedule_session(actor=kim, order_id=order.pk, scheduled_for=now)
    out[key] = s.pk
# A wrist sensor registered at the IV patient's site (the nurse attaches it from the run sheet).
from ketaclinic.web.monitoring.actions import do_register_device
iv_session = DosingSession.objects.get(pk=out["iv"])
device, token = do_register_device(actor=kim, site=iv_session.site, label="Wrist T1", serial="BROWSER-T1")
out["device"], out["token"] = device.pk, token
# The nurse types wall-clock times of the session's site (Los Angeles in the demo), as the run sheet shows them.
from ketaclinic.web.lib.timezones import zone_or_default
site_zone = zone_or_default(iv_session.site.timezone)
fmt = lambda minutes: timezone.localtime(now - dt.timedelta(minutes=minutes), site_zone).strftime("%Y-%m-%dT%H:%M")
out["t"] = {str(m): fmt(m) for m in (10, 5, 40, 80, 90, 125, 130)}
print(json.dumps(out))
"""

LEDGER = """
import json
from ketaclinic.web.ledger.models import LedgerEntry
from ketaclinic.web.ledger.selectors import location_balance
from ketaclinic.web.treatment.models import DosingSession
from ketaclinic.web.treatment.stock import reconciliation_problems
s = DosingSession.objects.get(pk=%d)
rows = list(LedgerEntry.objects.filter(session=s).order_by("seq").select_related("lot", "location"))
w = rows[0]
print(json.dumps({
    "entries": [[r.entry_type, format(r.quantity.normalize(), "f")] for r in rows],
    "balance": format(location_balance(lot=w.lot, location=w.location).normalize(), "f"),
    "problems": reconciliation_problems(s),
}))
"""


def _ingest(url: str, info: dict[str, Any], readings: list[tuple[int, str, float, str]]) -> dict[str, Any]:
    """Post (seq, LOINC, value, unit) readings taken just now as the IV session's wrist sensor."""
    now = dt.datetime.now(tz=dt.UTC)
    body = {
        "readings": [
            {"device": str(info["device"]), "session": str(info["iv"]), "metric": code, "value": value,
             "unit": unit, "time": (now - dt.timedelta(seconds=2)).isoformat(), "seq": seq}
            for seq, code, value, unit in readings
        ]
    }  # fmt: skip
    req = urllib.request.Request(
        url + "/api/v1/monitoring/ingest", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {info['token']}"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _step(page: Any, form: str, button: str) -> None:
    page.locator(form).get_by_role("button", name=button).click()


def _vitals(page: Any, sys: str, dia: str, hr: str, spo2: str, rr: str, at: str = "") -> None:
    f = page.locator("#form-vitals")
    f.get_by_label("Systolic").fill(sys)
    f.get_by_label("Diastolic").fill(dia)
    f.get_by_label("HR").fill(hr)
    f.get_by_label("SpO2").fill(spo2)
    f.get_by_label("RR").fill(rr)
    if at:
        f.get_by_label("Taken at (blank = now)").fill(at)
    f.get_by_role("button", name="Save vitals").click()


def _check_in_and_pre_dose(page: Any, rems: bool) -> None:
    status = page.locator("#session-status")
    expect(status).to_have_attribute("data-status", "scheduled")
    _step(page, "#form-check-in", "Check in")
    expect(status).to_have_attribute("data-status", "checked_in")
    _vitals(page, "120", "80", "70", "98", "14")
    expect(page.locator("#flowsheet")).to_contain_text("(baseline)")
    f = page.locator("#form-pre-dose")
    f.get_by_label("Fasting confirmed").check()
    f.get_by_label("Transport home arranged").check()
    f.get_by_label("Escort name").fill("Sam Rivera")
    f.get_by_label("Pregnancy test").select_option("negative")
    if rems:
        f.get_by_label("REMS enrolment verified").check()
    f.get_by_role("button", name="Pre-dose checks passed").click()
    expect(status).to_have_attribute("data-status", "pre_dose_checks")


def _withdraw(page: Any, lot: str, expect_text: str) -> None:
    f = page.locator("#form-withdraw")
    option = f.locator("option", has_text=lot).first
    f.get_by_label("Lot and storage location").select_option(option.get_attribute("value"))
    f.get_by_role("button", name="Withdraw for this session").click()
    expect(page.locator("#session-stock")).to_contain_text(expect_text)


def _device(page: Any, at: str) -> None:
    f = page.locator("#form-dose")
    expect(f.get_by_label("Dose (mg)")).to_have_value("28")
    expect(f.get_by_label("Lot (from this session's withdrawal)")).to_contain_text("SPR-DEMO-7731")
    f.get_by_label("Time (blank = now)").fill(at)
    f.get_by_role("button", name="Record dose").click()


def _score(page: Any, kind: str, score: str) -> None:
    f = page.locator("#form-scale")
    f.get_by_label("Scale").select_option(kind)
    f.get_by_label("Score").fill(score)
    f.get_by_role("button", name="Save score").click()


def test_nurse_runs_iv_and_esketamine_sessions_and_early_discharge_is_refused(
    page: Any, live_url: str, live_home: str
) -> None:
    info = json.loads(run_in_server_env(live_home, SETUP).strip().splitlines()[-1])
    t = info["t"]
    login(page, live_url, "nurse.kim")

    # ---- IV racemic ketamine: from the sessions board to discharge.
    page.goto(live_url + "/")
    page.get_by_role("link", name="Sessions").first.click()
    expect(page.locator("#sessions-board")).to_be_visible()
    page.get_by_role("link", name=f"Open run sheet #{info['iv']}").click()
    status = page.locator("#session-status")
    _check_in_and_pre_dose(page, rems=False)
    # The nurse puts the site's free wrist sensor on the patient from the run sheet.
    expect(page.locator("#no-devices")).to_be_visible()
    attach = page.locator("#form-attach-device")
    attach.get_by_label("Attach a sensor").select_option(label="Wrist T1 (BROWSER-T1, Wearable sensor)")
    attach.get_by_role("button", name="Attach").click()
    expect(page.locator("#attached-devices")).to_contain_text("Wrist T1 (BROWSER-T1) attached")
    # Before any withdrawal a dose is refused with the reason.
    page.locator("#form-dose").get_by_role("button", name="Record dose").click()
    expect(page.locator("#messages")).to_contain_text("withdraw stock for this session")
    expect(status).to_have_attribute("data-status", "pre_dose_checks")
    _withdraw(page, "KET-DEMO-24A", "lot KET-DEMO-24A")
    expect(page.locator("#session-stock")).to_contain_text("10 mL")  # one 10 mL vial for the order
    f = page.locator("#form-dose")
    expect(f.get_by_label("Lot (from this session's withdrawal)")).to_contain_text("KET-DEMO-24A")
    f.get_by_label("Time (blank = now)").fill(t["80"])
    expect(f.get_by_label("Duration (min)")).to_have_value("40")
    f.get_by_role("button", name="Record dose").click()
    expect(status).to_have_attribute("data-status", "dosing")
    expect(page.get_by_text("lot KET-DEMO-24A — guard allow")).to_be_visible()
    page.locator("#form-end-dosing").get_by_label("Infusion ended at (blank = now)").fill(t["40"])
    _step(page, "#form-end-dosing", "Dosing complete — start monitoring")
    expect(status).to_have_attribute("data-status", "monitoring")
    _vitals(page, "124", "80", "72", "98", "14")
    _score(page, "moaas", "5")
    # The sensor streams; its readings show on the flowsheet beside the manual ones, marked as sensor.
    sbp, dbp, hr = ("8480-6", "mm[Hg]"), ("8462-4", "mm[Hg]"), ("8867-4", "/min")
    body = _ingest(live_url, info, [(1, sbp[0], 128, sbp[1]), (2, dbp[0], 82, dbp[1]), (3, hr[0], 76, hr[1])])
    assert (body["stored"], body["rejected"]) == (3, [])
    page.reload()
    sensor_rows = page.locator('#flowsheet tr[data-source="sensor"]')
    expect(sensor_rows).to_have_count(1)
    expect(sensor_rows.first).to_contain_text("128/82")
    expect(sensor_rows.first.locator(".badge.sensor")).to_have_text("sensor")
    expect(sensor_rows.first).to_contain_text("Wrist T1 · median of 3")
    expect(page.locator('#flowsheet tr[data-source="manual"]')).to_have_count(3)  # 2 vitals sets, 1 MOAA/S
    # Everything is met except the escort, which the nurse confirms when marking the patient ready.
    expect(page.locator("#discharge-unmet li")).to_have_count(1)
    expect(page.locator("#discharge-unmet")).to_contain_text("No escort is recorded")
    # The vial's remainder is not yet accounted for: marking ready is refused on screen with the reason.
    expect(page.locator("#ledger-unmet")).to_contain_text("is unaccounted for")
    ready = page.locator("#form-ready")
    ready.get_by_label("Escort present").check()
    ready.get_by_role("button", name="Ready for discharge").click()
    expect(page.locator("#messages")).to_contain_text(
        "does not reconcile with the controlled-substance ledger"
    )
    expect(status).to_have_attribute("data-status", "monitoring")
    # A wrong witness password stores nothing; then nurse.silva witnesses the waste.
    waste = page.locator("#form-waste")
    waste.get_by_label("Witness", exact=True).select_option(label="Nurse Marta Silva")
    waste.get_by_label("Witness password").fill("wrong-password")
    waste.get_by_role("button", name="Waste remainder with witness").click()
    expect(page.locator("#messages")).to_contain_text("the witness's password is not correct")
    waste = page.locator("#form-waste")
    waste.get_by_label("Witness", exact=True).select_option(label="Nurse Marta Silva")
    waste.get_by_label("Witness password").fill(DEMO_PASSWORD)
    waste.get_by_role("button", name="Waste remainder with witness").click()
    expect(page.locator("#ledger-reconciled")).to_be_visible()
    ready = page.locator("#form-ready")
    ready.get_by_label("Escort present").check()
    ready.get_by_role("button", name="Ready for discharge").click()
    expect(status).to_have_attribute("data-status", "discharge_ready")
    _step(page, "#form-discharge", "Discharge")
    expect(status).to_have_attribute("data-status", "discharged")
    expect(page.locator("#rems-form")).to_have_count(0)  # no REMS form for racemic ketamine
    # Discharge detached the sensor: the panel is gone and a later reading is refused per reading.
    expect(page.locator("#sensors-panel")).to_have_count(0)
    body = _ingest(live_url, info, [(4, hr[0], 74, hr[1])])
    assert body == {
        "stored": 0,
        "duplicates": 0,
        "rejected": [{"index": 0, "fields": {"session": ["the device is not attached to a session"]}}],
        "alerts": [],
    }
    led = json.loads(run_in_server_env(live_home, LEDGER % info["iv"]).strip().splitlines()[-1])
    order_ml = led["entries"][1][1]
    assert [e[0] for e in led["entries"]] == [3, 4, 5]  # withdrawal, administration, waste
    assert led["entries"][0][1] == "10" and Decimal(order_ml) + Decimal(led["entries"][2][1]) == 10
    assert led["problems"] == []

    # ---- Esketamine: two devices 5 min apart, BP at 40 min, discharge after 2 h, REMS form generated.
    page.goto(f"{live_url}/treatment/sessions/{info['esk']}/")
    _check_in_and_pre_dose(page, rems=True)
    _withdraw(page, "SPR-DEMO-7731", "2 device")
    _device(page, t["130"])
    expect(status).to_have_attribute("data-status", "dosing")
    _device(page, t["125"])
    expect(page.get_by_text("device 2 lot SPR-DEMO-7731")).to_be_visible()
    _step(page, "#form-end-dosing", "Dosing complete — start monitoring")
    expect(status).to_have_attribute("data-status", "monitoring")
    _vitals(page, "134", "84", "78", "97", "14", at=t["90"])  # 40 min after the first device
    _vitals(page, "122", "80", "72", "98", "14")
    _score(page, "moaas", "5")
    ready = page.locator("#form-ready")
    ready.get_by_label("Escort present").check()
    ready.get_by_role("button", name="Ready for discharge").click()
    expect(status).to_have_attribute("data-status", "discharge_ready")
    _step(page, "#form-discharge", "Discharge")
    expect(status).to_have_attribute("data-status", "discharged")
    expect(page.locator("#rems-form")).to_contain_text("REMS Patient Monitoring Form due")

    # ---- Esketamine, 10 minutes after the first device: discharge is refused on screen, nothing changes.
    page.goto(f"{live_url}/treatment/sessions/{info['esk_early']}/")
    _check_in_and_pre_dose(page, rems=True)
    _withdraw(page, "SPR-DEMO-7731", "2 device")
    _device(page, t["10"])
    _device(page, t["5"])
    _step(page, "#form-end-dosing", "Dosing complete — start monitoring")
    _vitals(page, "122", "80", "72", "98", "14")
    _score(page, "moaas", "5")
    unmet = page.locator("#discharge-unmet")
    expect(unmet).to_contain_text("120")
    ready = page.locator("#form-ready")
    ready.get_by_label("Escort present").check()
    ready.get_by_role("button", name="Ready for discharge").click()
    expect(page.locator("#messages")).to_contain_text("discharge criteria not met")
    expect(status).to_have_attribute("data-status", "monitoring")
    expect(page.locator("#form-discharge")).to_have_count(0)

    # The board shows the two discharged sessions and the one still in monitoring.
    page.goto(live_url + "/treatment/")
    board = page.locator("#sessions-board")
    expect(board.locator(f"tr[data-session-id='{info['iv']}']")).to_have_attribute(
        "data-status", "discharged"
    )
    expect(board.locator(f"tr[data-session-id='{info['esk']}']")).to_have_attribute(
        "data-status", "discharged"
    )
    expect(board.locator(f"tr[data-session-id='{info['esk_early']}']")).to_have_attribute(
        "data-status", "monitoring"
    )
