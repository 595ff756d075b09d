"""Controlled-substance ledger in the browser: receive stock, withdraw and administer in a dosing session,
waste the remainder with a witness who re-enters their password, then print the register."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DEMO_PASSWORD, login, run_in_server_env

SETUP = r"""
import json, datetime as dt
from django.utils import timezone
from ketaclinic.web.accounts.models import User
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.ledger import actions
from ketaclinic.web.ledger.models import Product
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

custodian = User.objects.get(username="custodian.garcia")
prescriber = User.objects.get(username="dr.patel")
site = Site.objects.filter(jurisdiction="US-CA").select_related("clinic").first()
clinic = site.clinic
# A product of its own, so the demo's stock of the same drug does not change the balances this test checks.
product = Product.objects.filter(clinic=clinic, code="BROWSER-KET-50").first() or actions.do_create_product(
    actor=custodian, clinic=clinic, code_system="local", code="BROWSER-KET-50", drug="ketamine",
    name="Ketamine hydrochloride injection", form="injection solution", strength_mg_per_unit="50", unit="mL",
    container_size="10")
supplier = actions.do_create_supplier(
    actor=custodian, clinic=clinic, name="Browser Pharma", address="9 Test Rd, Sacramento CA",
    registration_number="RB7654321", registration_expires_on=timezone.localdate() + dt.timedelta(days=300))
location = actions.do_create_location(actor=custodian, site=site, name="Browser safe")
patient = clinic.patients.order_by("pk").first()
course = TreatmentCourse.objects.create(clinic=clinic, patient=patient, protocol_id="browser-iv", protocol_version=1,
    protocol_snapshot={}, indication="TRD", started_by=prescriber, started_at=timezone.now())
session = DosingSession.objects.create(clinic=clinic, site=site, patient=patient, course=course,
    scheduled_for=timezone.now())
print(json.dumps({"site": site.pk, "product": product.pk, "supplier": supplier.pk, "location": location.pk,
                  "session": session.pk, "patient": patient.family_name}))
"""


def _record(page: Any, live_url: str, kind: str, values: dict[str, str], selects: dict[str, str]) -> None:
    page.goto(f"{live_url}/ledger/record/{kind}/")
    for name, value in selects.items():
        page.locator(f"#id_{name}").select_option(value)
    for name, value in values.items():
        page.locator(f"#id_{name}").fill(value)
    page.get_by_role("button", name="Record").click()


def test_receive_administer_waste_and_print_register(page: Any, live_url: str, live_home: str) -> None:
    ids = json.loads(run_in_server_env(live_home, SETUP).strip().splitlines()[-1])
    login(page, live_url, "custodian.garcia")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Controlled substances").click()
    page.wait_for_url(re.compile(r"/ledger/$"))

    _record(
        page,
        live_url,
        "receive",
        {"lot_number": "BRW-1", "lot_expires_on": "2030-01-31", "quantity": "20", "invoice": "INV-77"},
        {"location": str(ids["location"]), "product": str(ids["product"]), "supplier": str(ids["supplier"])},
    )
    expect(page.get_by_text(re.compile(r"Receipt recorded as entry #\d+"))).to_be_visible()
    row = page.locator("#balances tbody tr", has_text="BRW-1")
    expect(row).to_contain_text("20 mL")

    lot_value = page.evaluate(
        "async () => { const r = await fetch('/ledger/record/withdraw/'); const t = await r.text();"
        ' const m = t.match(/<option value="(\\d+)"[^>]*>BRW-1 /); return m ? m[1] : null; }'
    )
    assert lot_value
    _record(
        page,
        live_url,
        "withdraw",
        {"quantity": "1"},
        {"session": str(ids["session"]), "lot": lot_value, "location": str(ids["location"])},
    )
    expect(page.get_by_text(re.compile(r"Withdrawal for session recorded"))).to_be_visible()
    expect(page.locator("#balances tbody tr", has_text="BRW-1")).to_contain_text("19 mL")

    _record(
        page, live_url, "administer", {"quantity": "0.7"}, {"session": str(ids["session"]), "lot": lot_value}
    )
    expect(page.get_by_text(re.compile(r"Administration recorded"))).to_be_visible()
    expect(page.get_by_role("heading", name="Sessions to reconcile")).to_be_visible()
    expect(page.locator("section", has_text="Sessions to reconcile")).to_contain_text("0.3 mL")

    # A wrong witness password is refused and nothing is stored.
    nurse = page.evaluate(
        "async () => { const r = await fetch('/ledger/record/waste/'); const t = await r.text();"
        ' const m = t.match(/<option value="(\\d+)"[^>]*>Nurse Joon Kim/); return m ? m[1] : null; }'
    )
    assert nurse
    _record(
        page,
        live_url,
        "waste",
        {"quantity": "0.3", "witness_password": "wrong-password"},
        {"session": str(ids["session"]), "lot": lot_value, "witness": nurse},
    )
    expect(page.locator("#err_witness_password")).to_have_text("the witness's password is not correct")
    page.locator("#id_witness_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_text(re.compile(r"Waste recorded as entry #\d+"))).to_be_visible()
    expect(page.locator("section", has_text="Sessions to reconcile")).to_contain_text(
        "Every session is reconciled"
    )

    # Print the register for this drug, form and strength.
    page.locator("#reg-site").select_option(str(ids["site"]))
    page.locator("#reg-product").select_option(str(ids["product"]))
    page.get_by_role("button", name="Show register").click()
    page.wait_for_url(re.compile(r"/ledger/register/"))
    register = page.locator("#register tbody")
    expect(register).to_contain_text("INV-77".replace("INV-77", "Browser Pharma"))
    expect(register).to_contain_text(ids["patient"])
    expect(register).to_contain_text("Nurse Joon Kim")
    expect(page.locator("#closing-balance")).to_have_text("19 mL")
    pdf_url = page.locator("#register-pdf").get_attribute("href")
    resp = page.request.get(live_url + "/ledger/register/" + pdf_url)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.body().startswith(b"%PDF-")

    page.goto(live_url + "/ledger/verify/")
    expect(page.locator("#verify-result")).to_contain_text("Intact.")
