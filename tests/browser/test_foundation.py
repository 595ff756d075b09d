"""Sign in, find a patient, edit it (a refused edit first), and see the edit in the audit trail."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login


def test_sign_in_find_edit_patient_and_audit(page: Any, live_url: str, browser: Any) -> None:
    login(page, live_url, "nurse.kim")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search by name, MRN or birth date").fill("MRN-000007")
    page.keyboard.press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.locator("#results tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    page.get_by_role("link", name="Edit details").click()
    page.locator("#id_phone").fill("+1-555-7777")
    page.locator("#id_birth_date").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    expect(page.locator("#err_birth_date")).to_have_text("Error: is required")
    page.locator("#id_birth_date").fill("1980-01-01")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_text("+1-555-7777")).to_be_visible()

    auditor = browser.new_context()
    apage = auditor.new_page()
    login(apage, live_url, "auditor.smith")
    apage.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    apage.get_by_label("Action").select_option("patient.update")
    apage.get_by_role("button", name="Filter").click()
    first = apage.locator("tbody tr").first
    expect(first).to_contain_text("nurse.kim")
    expect(first).to_contain_text("+1-555-7777")
    auditor.close()
