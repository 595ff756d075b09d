"""The run sheet as a flowsheet in the browser: the dose form's volume follows the dose typed; a vitals set
entered on another screen marks the grid and the chart live and toasts the nurse by the patient's name; the
toast goes when the alert is acknowledged elsewhere and can be dismissed; an infusion stopped early needs a
reason and records the dose given; discharge names the escort, keeps the tick when refused and lists what is
missing. Data is prepared through the real actions in the server's database; the work is done on the pages."""

from __future__ import annotations

import json
import os
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

SETUP = """
import datetime as dt, json
from django.utils import timezone
from ketaclinic.web.accounts.models import User
from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.demo import clear_screening, consent_and_course
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse
from ketaclinic.web.lib.timezones import zone_or_default

patel, okafor = User.objects.get(username="dr.patel"), User.objects.get(username="dr.okafor")
kim = User.objects.get(username="nurse.kim")
now = timezone.now()
free = [
    p for p in Patient.objects.filter(clinic__slug="riverside-demo").order_by("-pk")
    # MRN-000011, -45 and -46 stay untouched for the assessments and screening browser tests.
    if p.mrn not in {"MRN-000011", "MRN-000045", "MRN-000046"}
    and not TreatmentCourse.objects.filter(patient=p).exists() and p.latest_weight() is not None
    and not has_unacknowledged_suicide_alert(p)
    and not DosingSession.objects.filter(patient=p).exists()
]
patient = free[0]
clear_screening(patient, patel, "iv", now - dt.timedelta(days=2), okafor)
course = consent_and_course(patient, patel, "iv-racemic-depression", "ketamine_racemic", now - dt.timedelta(days=1))
order = A.do_sign_order(actor=patel, course_id=course.pk, planned_for=now)
s = A.do_schedule_session(actor=kim, order_id=order.pk, scheduled_for=now)
zone = zone_or_default(s.site.timezone)
print(json.dumps({
    "session": s.pk, "name": patient.full_name, "dose": format(order.dose_mg.normalize(), "f"),
    "weight": format(order.weight_kg.normalize(), "f"),
    "t30": timezone.localtime(now - dt.timedelta(minutes=30), zone).strftime("%Y-%m-%dT%H:%M"),
}))
"""


def _vitals(page: Any, **values: str) -> None:
    f = page.locator("#form-vitals")
    for label, value in values.items():
        f.get_by_label(label, exact=True).fill(value)
    f.get_by_role("button", name="Save vitals").click()


def test_flowsheet_live_dose_volume_toasts_early_end_and_discharge(
    context: Any, live_url: str, live_home: str
) -> None:
    info = json.loads(run_in_server_env(live_home, SETUP).strip().splitlines()[-1])
    sheet = f"{live_url}/treatment/sessions/{info['session']}/"
    page = context.new_page()
    login(page, live_url, "nurse.kim")
    page.goto(sheet)
    status = page.locator("#session-status")
    page.locator("#form-check-in").get_by_role("button", name="Check in").click()
    expect(status).to_have_attribute("data-status", "checked_in")
    _vitals(page, Systolic="120", Diastolic="80", HR="70", SpO2="98", RR="14")
    f = page.locator("#form-pre-dose")
    f.get_by_label("Fasting confirmed").check()
    f.get_by_label("Transport home arranged").check()
    f.get_by_label("Escort name").fill("Sam Rivera")
    f.get_by_label("Pregnancy test").select_option("negative")
    f.get_by_role("button", name="Pre-dose checks passed").click()
    expect(status).to_have_attribute("data-status", "pre_dose_checks")
    # Vitals can be charted between the pre-dose checks and the first dose.
    expect(page.locator("#form-vitals")).to_be_visible()
    w = page.locator("#form-withdraw")
    w.get_by_label("Lot and storage location").select_option(
        w.locator("option", has_text="KET-DEMO-24A").first.get_attribute("value")
    )
    w.get_by_role("button", name="Withdraw for this session").click()
    expect(page.locator("#session-stock")).to_contain_text("KET-DEMO-24A")
    expect(page.locator("#form-withdraw")).to_have_count(0)  # gone once the session holds stock

    # The dose form: mg, mg/kg of the order's weight and the volume of the 50 mg/mL lot, following the typing.
    dose, kg = info["dose"], info["weight"]
    calc = page.locator("#dose-calc")
    expect(page.locator("#dose-calc-volume")).to_have_text(f"{round(float(dose) / 50, 2):g}")  # to 0.01 mL
    expect(calc).to_contain_text(f"{dose} mg = {round(float(dose) / float(kg), 3):g} mg/kg of {kg} kg")
    page.locator("#d-mg").fill("20")
    expect(calc).to_contain_text(f"20 mg = {round(20 / float(kg), 3):g} mg/kg of {kg} kg · draw up 0.4 mL")
    page.locator("#d-mg").fill(dose)
    page.locator("#d-at").fill(info["t30"])
    page.locator("#form-dose").get_by_role("button", name="Record dose").click()
    expect(status).to_have_attribute("data-status", "dosing")
    expect(page.locator("#infusion-state")).to_contain_text("Running")

    # A second screen (the nurse at the chair) records a high heart rate: the first screen's grid and chart
    # redraw live, the value is marked critical, the infusion pause is drawn, and a toast names the patient.
    chair = context.new_page()
    chair.goto(sheet)
    expect(page.locator("body")).to_have_attribute("data-live-connected", "1")
    _vitals(chair, HR="121")
    hr_row = page.locator('#flowsheet-grid tr[data-row="heart_rate"]')
    expect(hr_row).to_contain_text("121 !!")
    expect(hr_row.locator('td[data-level="critical"]')).to_have_count(1)
    expect(page.locator('#vitals-chart [data-mark="pause"]')).to_have_count(1)
    expect(page.locator('#vitals-chart [data-mark="dose-start"]')).to_have_count(1)
    toast = page.locator("#toasts .toast[data-kind='session']")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text(f"{info['name']}: Heart rate 121")
    # Acknowledged on the other screen: the toast goes.
    chair.reload()
    chair.locator("#session-alerts").get_by_role("button", name="Acknowledge").first.click()
    expect(toast).to_have_count(0)
    # Another alert; this toast is dismissed by hand.
    _vitals(chair, SpO2="90")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text(info["name"])
    toast.get_by_role("button", name="Dismiss this alert").click()
    expect(toast).to_have_count(0)

    # Resume, then stop early: refused without a reason (the typed time kept), then recorded with the dose given.
    page.reload()
    expect(page.locator("#paused")).to_be_visible()
    page.locator("#pause-reason").fill("heart rate settled")
    page.locator("#form-pause").get_by_role("button", name="Resume infusion").click()
    expect(page.locator("#infusion-state")).to_contain_text("Running")
    page.locator("#form-end-dosing").get_by_role("button", name="Dosing complete — start monitoring").click()
    expect(page.locator("#messages")).to_contain_text("the infusion is stopped early")
    expect(status).to_have_attribute("data-status", "dosing")
    page.locator("#e-reason").fill("patient asked to stop")
    page.locator("#form-end-dosing").get_by_role("button", name="Dosing complete — start monitoring").click()
    expect(status).to_have_attribute("data-status", "monitoring")
    expect(page.locator("#dose-given")).to_contain_text(
        f"mg of {dose} mg ordered — stopped early: patient asked to stop"
    )

    # Discharge: the escort named at the pre-dose checks; refused (too soon), the tick kept, what is missing listed.
    expect(page.locator("#escort-name")).to_have_text("Sam Rivera")
    missing = page.locator("#discharge-unmet li")
    n = missing.count()
    assert n >= 1
    ready = page.locator("#form-ready")
    ready.get_by_label("Escort present").check()
    ready.get_by_role("button", name="Ready for discharge").click()
    expect(page.locator("#messages")).to_contain_text("discharge criteria not met")
    expect(status).to_have_attribute("data-status", "monitoring")
    expect(page.locator("#form-ready").get_by_label("Escort present")).to_be_checked()
    expect(missing).to_have_count(n)
    os.makedirs("artifacts/screenshots", exist_ok=True)
    page.screenshot(path="artifacts/screenshots/run-sheet-flowsheet.png", full_page=True)
