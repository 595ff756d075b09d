"""Long-term safety end to end on the demo patient with rising bladder symptoms and blood in the urine: the
prescriber finds her on the clinic's safety page, reads her schedule, results and alerts on the Safety tab,
enters a liver-enzyme result that raises a new alert, and records a decision that closes the bladder alert."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

FIND = """
import json
from ketaclinic.web.surveillance.models import LabResult
lab = LabResult.objects.filter(patient__clinic__slug="riverside-demo", value_text="2+").select_related("patient").get()
p = lab.patient
print(json.dumps({"id": p.pk, "name": f"{p.family_name}, {p.given_name}"}))
"""


def test_prescriber_reviews_and_decides_on_safety_alerts(page: Any, live_url: str, live_home: str) -> None:
    patient = json.loads(run_in_server_env(live_home, FIND))
    login(page, live_url, "dr.patel")
    page.get_by_role("link", name="Safety", exact=True).click()
    row = page.locator(f'#safety-watchlist tr[data-patient="{patient["id"]}"]')
    expect(row).to_contain_text("Bladder symptoms")
    expect(row).to_contain_text("Blood in the urine")
    row.get_by_role("link", name=patient["name"]).click()

    # The Safety tab: both alerts open, the schedule, the dipstick results marked abnormal.
    expect(page.locator('[data-alert="bladder_symptoms"]')).to_have_attribute("data-open", "1")
    expect(page.locator('[data-alert="haematuria"]')).to_have_attribute("data-open", "1")
    expect(page.locator('[data-alert="bladder_symptoms"]')).to_contain_text("BPIC-SS total 22")
    expect(page.locator('tr[data-item="bladder_screen"]')).to_have_attribute("data-status", "ok")
    expect(page.locator('tr[data-item="liver_enzymes"]')).to_contain_text("Liver enzymes (ALT or AST)")
    expect(page.locator("#safety-labs")).to_contain_text("2+ abnormal")
    expect(page.locator("#exposure-summary")).to_contain_text("sessions")

    # A nurse or prescriber enters an ALT result from the lab: above 3 x the upper limit raises an alert.
    form = page.locator("#form-lab")
    form.get_by_label("Test").select_option(label="ALT")
    form.get_by_label("Result (negative, trace, 1+, 2+, 3+, positive; or a number)").fill("150")
    form.get_by_label("Unit (ALT and AST: U/L)").fill("U/L")
    form.get_by_label("Reference high").fill("40")
    form.get_by_role("button", name="Save result").click()
    expect(page.locator("#messages")).to_contain_text("ALT result saved.")
    expect(page.locator("#safety-labs")).to_contain_text("150 U/L above range")
    liver = page.locator('[data-alert="liver_enzymes_raised"]')
    expect(liver).to_have_attribute("data-open", "1")
    expect(liver).to_contain_text("ALT 150 U/L")

    # The prescriber decides on the bladder alert: it closes, the decision is listed, the others stay open.
    bladder = page.locator('[data-alert="bladder_symptoms"]')
    bladder.get_by_label("Decision").select_option(label="Refer to urology")
    bladder.get_by_label("Reason").fill("BPIC-SS rising to 22 with 2+ blood: urology for cystoscopy")
    bladder.get_by_role("button", name="Record decision").click()
    expect(page.locator("#messages")).to_contain_text("Decision recorded.")
    expect(page.locator('[data-alert="bladder_symptoms"]')).to_have_attribute("data-open", "0")
    expect(page.locator('[data-alert="haematuria"]')).to_have_attribute("data-open", "1")
    expect(page.locator("#safety-decisions")).to_contain_text("Refer to urology on bladder symptoms")

    # The chart's banners carry the open alerts only.
    page.get_by_role("link", name="Overview").click()
    banners = page.locator("#chart-banners")
    expect(banners).to_contain_text("Safety alert: Blood in the urine.")
    expect(banners).to_contain_text("Safety alert: Liver enzymes raised.")
    expect(banners).not_to_contain_text("Safety alert: Bladder symptoms.")
