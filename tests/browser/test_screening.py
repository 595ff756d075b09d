"""Eligibility screening in the browser: a nurse records intake (a condition, blood pressure and weight), the
screening shows needs_review with each finding and its source, a prescriber clears the relative findings with a
reason and the chart shows it cleared; an absolute finding needs a second prescriber's co-signature."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import login, run_in_server_env

FIND = """
import json
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun
out = {}
for mrn in ("MRN-000045", "MRN-000046"):
    p = Patient.objects.get(mrn=mrn, clinic__slug="riverside-demo")
    assert not ScreeningRun.objects.filter(patient=p).exists() and not IntakeItem.objects.filter(patient=p).exists()
    out[mrn] = p.pk
print(json.dumps(out))
"""


def _row(page: Any, code: str) -> Any:
    return page.locator(f"table.findings tr[data-code='{code}']")


def _as(browser: Any, live_url: str, username: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    page = ctx.new_page()
    login(page, live_url, username)
    return page


def test_relative_findings_cleared_and_absolute_override_cosigned(
    page: Any, live_url: str, live_home: str, browser: Any
) -> None:
    ids = json.loads(run_in_server_env(live_home, FIND).strip().splitlines()[-1])
    first, second = ids["MRN-000045"], ids["MRN-000046"]

    # The nurse records a condition, then blood pressure and weight.
    login(page, live_url, "nurse.kim")
    page.goto(f"{live_url}/screening/patients/{first}/")
    assert (
        "Screening not cleared: no eligibility screening on file"
        in page.locator("#chart-banners").inner_text()
    )
    form = page.locator("#form-condition")
    form.get_by_label("Code system").select_option("icd10cm")
    form.locator("#condition-code").fill("H40.9")
    form.get_by_label("Description").fill("Glaucoma")
    form.get_by_label("Clinical status").select_option("active")
    form.get_by_role("button", name="Add condition").click()
    page.get_by_text("Condition recorded; screening re-run.").wait_for()

    # A typo is refused with the field named, and nothing is stored.
    vitals = page.locator("#form-vitals")
    vitals.get_by_label("Systolic (mmHg)").fill("150")
    vitals.get_by_label("Diastolic (mmHg)").fill("95")
    vitals.get_by_label("Weight (kg)").fill("72,4kg")
    vitals.get_by_role("button", name="Record vitals").click()
    assert page.locator("#err-vitals-weight_kg").inner_text() == "must be a number of kilograms"
    assert page.locator("#intake-items li").count() == 1
    vitals = page.locator("#form-vitals")
    assert vitals.get_by_label("Systolic (mmHg)").input_value() == "150"
    vitals.get_by_label("Weight (kg)").fill("72.4")
    vitals.get_by_role("button", name="Record vitals").click()
    page.get_by_text("Vitals recorded; screening re-run.").wait_for()

    # needs_review, with each finding, the intake item behind it and the rule's source.
    assert page.locator("#decision").inner_text() == "Needs review"
    codes = page.locator("table.findings tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes == ["elevated_blood_pressure", "raised_intraocular_pressure"]
    bp = _row(page, "elevated_blood_pressure")
    assert "BP 150/95 mmHg (form, Nurse Joon Kim" in bp.locator("td.evidence").inner_text()
    assert "SPRAVATO PI: baseline BP elevated" in bp.locator("td.source").inner_text()
    iop = _row(page, "raised_intraocular_pressure")
    assert "ICD10CM H40.9 Glaucoma (active)" in iop.locator("td.evidence").inner_text()
    assert "ASRA/AAPM/ASA (Cohen 2018) raised IOP" in iop.locator("td.source").inner_text()
    assert iop.get_by_role("button", name="Clear finding").count() == 0  # nurses do not decide
    assert "Screening not cleared: needs review" in page.locator("#chart-banners").inner_text()

    # A prescriber clears both relative findings with a written reason.
    doc = _as(browser, live_url, "dr.patel")
    doc.goto(f"{live_url}/screening/patients/{first}/")
    for code, reason in (
        ("elevated_blood_pressure", "Repeat BP 132/84 after rest; monitored each session."),
        ("raised_intraocular_pressure", "Open-angle glaucoma, controlled; ophthalmology agrees."),
    ):
        row = _row(doc, code)
        row.get_by_label("Reason").fill(reason)
        row.get_by_role("button", name="Clear finding").click()
        doc.get_by_text("Decision recorded.").wait_for()
        assert f"Relative finding cleared by Dr Asha Patel: “{reason}”" in _row(doc, code).inner_text()
    assert doc.locator("#screening-tab .badge.ok", has_text="cleared").count() == 1
    assert "Screening not cleared" not in doc.locator("#chart-banners").inner_text()

    # An absolute finding: dr.patel proposes the override, dr.okafor co-signs.
    doc.goto(f"{live_url}/screening/patients/{second}/")
    form = doc.locator("#form-condition")
    form.locator("#condition-code").fill("I67.1")
    form.get_by_label("Description").fill("Cerebral aneurysm, nonruptured")
    form.get_by_label("Clinical status").select_option("resolved")
    form.get_by_role("button", name="Add condition").click()
    doc.get_by_text("Condition recorded; screening re-run.").wait_for()
    vitals = doc.locator("#form-vitals")
    vitals.get_by_label("Systolic (mmHg)").fill("122")
    vitals.get_by_label("Diastolic (mmHg)").fill("78")
    vitals.get_by_label("Weight (kg)").fill("80")
    vitals.get_by_role("button", name="Record vitals").click()
    doc.get_by_text("Vitals recorded; screening re-run.").wait_for()
    assert doc.locator("#decision").inner_text() == "Ineligible"
    assert (
        doc.locator("#chart-banners .banner.danger", has_text="Screening not cleared: ineligible").count()
        == 1
    )
    row = _row(doc, "aneurysmal_vascular_disease")
    row.get_by_label("Reason").fill("coiled")  # not a sentence
    row.get_by_role("button", name="Propose override").click()
    assert "at least one full sentence" in doc.locator(".messages").inner_text()
    row = _row(doc, "aneurysmal_vascular_disease")
    row.get_by_label("Reason").fill(
        "Aneurysm coiled in 2019; neurosurgery confirms stability on the 2025 scan."
    )
    row.get_by_role("button", name="Propose override").click()
    doc.get_by_text("Decision recorded.").wait_for()
    row = _row(doc, "aneurysmal_vascular_disease")
    assert "awaiting a second prescriber's co-signature" in row.inner_text()
    assert row.get_by_role("button", name="Co-sign override").count() == 0  # not by the proposer
    assert doc.locator("#screening-tab .badge.warning", has_text="not cleared").count() == 1

    okafor = _as(browser, live_url, "dr.okafor")
    okafor.goto(f"{live_url}/screening/patients/{second}/")
    _row(okafor, "aneurysmal_vascular_disease").get_by_role("button", name="Co-sign override").click()
    okafor.get_by_text("Override co-signed.").wait_for()
    row = _row(okafor, "aneurysmal_vascular_disease")
    assert "Absolute finding overridden by Dr Asha Patel" in row.inner_text()
    assert "co-signed by Dr Chidi Okafor" in row.inner_text()
    assert okafor.locator("#screening-tab .badge.ok", has_text="cleared").count() == 1
    assert "Screening not cleared" not in okafor.locator("#chart-banners").inner_text()
