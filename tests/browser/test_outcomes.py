"""Outcomes end to end on the demo: a researcher lands on the outcomes page, reads the denominators and rates
the engine computes for the demo clinic, filters by measure and downloads the summary PDF; a prescriber opens
a patient's progress report from the chart."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

EXPECTED = """
import json
from ketaclinic.core.outcomes import analyse_cohort
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.outcomes.cells import shown
from ketaclinic.web.outcomes.selectors import OutcomeFilters, clinic_cohort
from ketaclinic.web.outcomes.views import build_report
from ketaclinic.web.patients.models import Patient
clinic = Clinic.objects.get(slug="riverside-demo")
out = {}
for iid in ("phq9", "madrs"):
    r = analyse_cohort(clinic_cohort(clinic=clinic, filters=OutcomeFilters(instrument=iid)))
    out[iid] = {"n": r.n, "evaluable": r.evaluable, "response": [r.response.n, r.response.of]}
    # What a researcher reads: the same figures after the clinic's small-number suppression.
    view = shown(build_report(clinic, OutcomeFilters(instrument=iid)), clinic.small_cell_threshold)
    texts = {key: text for _, key, text in view["denominators"]}
    out[iid]["researcher"] = {
        "enrolled": texts["enrolled"], "evaluable": texts["evaluable"], "response": view["rate_display"][0][1],
    }
p = Patient.objects.filter(clinic=clinic, assessments__instrument_id="phq9", dosing_sessions__first_dose_at__isnull=False).distinct().first()
out["patient"] = {"id": p.pk, "name": f"{p.family_name}, {p.given_name}"}
print(json.dumps(out))
"""


def test_researcher_reads_filters_and_downloads_the_summary(page: Any, live_url: str, live_home: str) -> None:
    exp = json.loads(run_in_server_env(live_home, EXPECTED))
    assert exp["phq9"]["evaluable"] > 0
    login(page, live_url, "researcher.ito")
    page.goto(live_url + "/")
    page.wait_for_url(lambda u: u.endswith("/outcomes/"))
    expect(page.get_by_role("heading", name="Outcomes", exact=True)).to_be_visible()
    seen = exp["phq9"]["researcher"]
    expect(page.locator('[data-count="enrolled"]')).to_have_text(seen["enrolled"])
    expect(page.locator('[data-count="evaluable"]')).to_have_text(seen["evaluable"])
    expect(page.locator("table.rates tr", has_text="Response at any score")).to_contain_text(seen["response"])
    expect(page.locator("[data-suppression]")).to_be_visible()
    for chart in ("weekly", "waterfall", "km", "durability", "reference"):
        expect(page.locator(f'svg[data-chart="{chart}"]')).to_have_attribute("role", "img")
    expect(page.locator("table.safety tr[data-event]")).to_have_count(5)
    # No chart or patient list for a researcher.
    expect(page.get_by_role("link", name="Patients", exact=True)).to_have_count(0)

    page.get_by_label("Measure").select_option("madrs")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(lambda u: "instrument=madrs" in u)
    expect(page.locator('[data-count="evaluable"]')).to_have_text(exp["madrs"]["researcher"]["evaluable"])

    resp = page.request.get(live_url + "/outcomes/summary.pdf?instrument=madrs")
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.body().startswith(b"%PDF-")


def test_prescriber_opens_the_progress_report_from_the_chart(
    page: Any, live_url: str, live_home: str
) -> None:
    exp = json.loads(run_in_server_env(live_home, EXPECTED))
    login(page, live_url, "dr.patel")
    page.goto(f"{live_url}/patients/{exp['patient']['id']}/")
    link = page.get_by_role("link", name="Progress report (PDF)")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    resp = page.request.get(live_url + href)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.body().startswith(b"%PDF-")
    page.get_by_role("link", name="Outcomes", exact=True).click()
    expect(page.locator('[data-count="enrolled"]')).to_have_text(str(exp["phq9"]["n"]))
