"""Pain programme end to end on the demo patient on methadone: the prescriber finds her on the clinic's opioid-sparing
page, reads her opioid load, warnings and the naloxone prompt on the Pain tab, records the naloxone offer, tapers
the methadone, and the run sheet of her next infusion shows the new load and the last opioid dose."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

SETUP = """
import json
from django.utils import timezone
from ketaclinic.web.pain.models import OpioidMedication
from ketaclinic.web.treatment.models import DosingSession
m = OpioidMedication.objects.filter(patient__clinic__slug="riverside-demo", ingredient="methadone").select_related("patient").get()
p = m.patient
course = p.treatment_courses.get(indication="chronic_pain")
s = DosingSession.objects.create(clinic=p.clinic, patient=p, course=course, site=p.home_site,
                                 scheduled_for=timezone.now() + timezone.timedelta(hours=2))
print(json.dumps({"id": p.pk, "name": f"{p.family_name}, {p.given_name}", "session": s.pk}))
"""


def test_prescriber_reads_the_load_offers_naloxone_tapers_and_the_run_sheet_follows(
    page: Any, live_url: str, live_home: str
) -> None:
    patient = json.loads(run_in_server_env(live_home, SETUP))
    login(page, live_url, "dr.okafor")
    page.get_by_role("link", name="Opioid sparing", exact=True).click()
    share = page.locator("#sparing-share")
    expect(share).to_contain_text("3 of 4")
    expect(share).to_contain_text("without opioids at baseline")
    page.locator("#sparing-patients").get_by_role("link", name=patient["name"]).click()

    # The Pain tab: 141 MME/day (methadone 10 mg three times a day), both warnings and the naloxone prompt.
    expect(page.locator("#mme-total")).to_contain_text("141")
    findings = page.locator("#mme-findings")
    expect(findings).to_contain_text("50 or more")
    expect(findings).to_contain_text("90 or more")
    expect(findings).to_contain_text("history of overdose")
    expect(page.locator("#pain-chart svg")).to_have_attribute("role", "img")
    expect(page.locator(".pain-kind")).to_contain_text("Complex regional pain syndrome")
    prompt = page.locator("#naloxone-prompt")
    prompt.get_by_label("Outcome").select_option(label="Accepted (prescribed or supplied)")
    prompt.get_by_role("button", name="Record the offer").click()
    expect(page.locator(".messages")).to_contain_text("Naloxone offer recorded.")
    expect(page.locator("#naloxone-prompt")).to_have_count(0)
    expect(page.locator("#naloxone-status")).to_contain_text("Accepted")

    # A taper step: 10 mg to 5 mg three times a day from today halves the load.
    row = page.locator("#opioid-list tr", has_text="Methadone")
    row.get_by_text("Change dose or stop").click()
    row.get_by_label("New dose").fill("5")
    row.get_by_role("button", name="Change dose").click()
    expect(page.locator(".messages")).to_contain_text("Dose changed from that day.")
    expect(page.locator("#mme-total")).to_contain_text("70.5")
    expect(page.locator("#opioid-list")).to_contain_text("dose changed")

    # The run sheet of the next infusion: the opioid load and the last opioid dose before the infusion.
    page.goto(f"{live_url}/treatment/sessions/{patient['session']}/")
    panel = page.locator("#opioid-panel")
    expect(panel).to_contain_text("70.5")
    expect(panel).to_contain_text("not recorded")
    panel.get_by_label("Opioid taken").select_option(label="Methadone 5 mg")
    panel.get_by_role("button", name="Record last opioid dose").click()
    expect(page.locator("#messages")).to_contain_text("Last opioid dose recorded.")
    expect(page.locator("#last-opioid-dose")).to_contain_text("Methadone at")
