"""A remote PHQ-9 answered on a phone-sized viewport appears in the chart trend, and a positive item 9 raises
the suicide-risk alert live on the prescriber's screen; the chart refreshes in place (the toast survives) and the
prescriber acknowledges the alert with a documented action."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.browser.conftest import CHROMIUM_ARGS, login, run_in_server_env  # noqa: F401

SETUP = """
import json
from ketaclinic.web.accounts.models import User
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.assessments import actions
nurse = User.objects.get(username="nurse.kim")
patient = Patient.objects.filter(mrn="MRN-000011", clinic_id__in=nurse.memberships.values("clinic_id")).first()
link, url = actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="phq9", valid_hours=24)
print(json.dumps({"patient_id": patient.pk, "url": url}))
"""


def test_remote_phq9_on_phone_reaches_trend_and_alerts_prescriber(
    page: Any, live_url: str, live_home: str, browser: Any
) -> None:
    info = json.loads(run_in_server_env(live_home, SETUP).strip().splitlines()[-1])
    patient_id, link = info["patient_id"], info["url"]

    # The prescriber has the patient's assessments tab open, with the live socket connected.
    login(page, live_url, "dr.patel")
    page.goto(f"{live_url}/assessments/patient/{patient_id}/")
    page.wait_for_selector("body[data-live-connected='1']")
    assert page.locator("#trend-phq9").count() == 0
    assert page.locator("#chart-banners .banner.danger").count() == 0
    page.evaluate("window.__kcNoReload = 'still-here'")  # vanishes if the page reloads

    # The patient answers on a phone: every item, item 9 positive.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    ppage = phone.new_page()
    ppage.goto(live_url + link)
    assert ppage.get_by_text("Little interest or pleasure in doing things").is_visible()
    answers = [2, 2, 1, 2, 1, 1, 1, 0, 1]  # total 11, item 9 = 1
    for n, v in enumerate(answers, start=1):
        ppage.locator(f"input[name='item_{n}'][value='{v}']").check()
    ppage.get_by_role("button", name="Send my answers").click()
    ppage.get_by_role("heading", name="Thank you").wait_for()
    width = ppage.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no horizontal scrolling on the phone
    phone.close()

    # The alert arrives live on the prescriber's screen.
    toast = page.locator("#toasts .toast[data-kind='suicide_risk']")
    toast.wait_for()
    assert re.search(r"Suicide-risk alert: .* PHQ-9 item 9 > 0", toast.inner_text())

    # The tab and the banners refresh in place: the trend point, the banner and the open alert are shown,
    # the page was not reloaded and the toast is still on screen.
    page.locator("#trend-phq9 circle.point[data-total='11']").wait_for()
    page.locator("#chart-banners .banner.danger").wait_for()
    assert "awaiting a prescriber's acknowledgement" in page.locator("#chart-banners").inner_text()
    first_row = page.locator("#assessment-table tbody tr").first
    assert first_row.get_attribute("data-instrument") == "phq9"
    assert "11" in first_row.inner_text() and "suicidal_ideation" in first_row.inner_text()
    assert page.locator("#alerts .alert-row .badge.danger").inner_text() == "open"
    assert page.evaluate("window.__kcNoReload") == "still-here"
    assert toast.is_visible()

    # The prescriber acknowledges with a documented action; the banner goes away.
    page.locator("select[name='action']").first.select_option("contact")
    page.locator("textarea[name='note']").first.fill("Called the patient; safe, safety plan reviewed.")
    page.get_by_role("button", name="Acknowledge alert").first.click()
    page.get_by_text("Alert acknowledged.").wait_for()
    assert page.locator("#chart-banners .banner.danger").count() == 0
    row = page.locator("#alerts .alert-row").first
    assert row.locator(".badge.ok").inner_text() == "acknowledged"
    assert "Patient contacted — Called the patient; safe, safety plan reviewed." in row.inner_text()
