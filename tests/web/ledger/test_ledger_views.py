"""Ledger pages, forms, API and reports: roles, refusals shown per field, register and inventory contents."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.accounts.models import User
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import LedgerEntry, Lot, Product, StorageLocation, Supplier

PW = "correct-horse-battery-9"


def test_dashboard_roles(client_as: Any, custodian: User, auditor: User, nurse: User, stocked: Lot) -> None:
    r = client_as(custodian).get("/ledger/")
    assert r.status_code == 200
    assert b"Stock on hand" in r.content and b"Receive stock" in r.content
    r = client_as(auditor).get("/ledger/")
    assert r.status_code == 200 and b"Stock on hand" in r.content
    assert b"Receive stock" not in r.content  # auditors read, never move
    assert client_as(nurse).get("/ledger/").status_code == 403
    assert client_as(auditor).get("/ledger/record/receive/").status_code == 403


def test_auditor_cannot_post_a_movement(
    client_as: Any, auditor: User, safe: StorageLocation, stocked: Lot
) -> None:
    before = LedgerEntry.objects.count()
    r = client_as(auditor).post(
        "/ledger/record/adjust/", {"lot": stocked.pk, "location": safe.pk, "quantity": "1", "reason": "x"}
    )
    assert r.status_code == 403
    assert LedgerEntry.objects.count() == before


def test_receive_form_and_refusal(
    client_as: Any, custodian: User, safe: StorageLocation, product: Product, supplier: Supplier
) -> None:
    c = client_as(custodian)
    assert c.get("/ledger/record/receive/").status_code == 200
    data = {
        "location": safe.pk,
        "product": product.pk,
        "supplier": supplier.pk,
        "lot_number": "R1",
        "lot_expires_on": (timezone.localdate() + dt.timedelta(days=100)).isoformat(),
        "quantity": "30",
    }
    r = c.post("/ledger/record/receive/", {**data, "quantity": "-3"})
    assert r.status_code == 400
    assert b"cannot be negative" in r.content
    assert LedgerEntry.objects.count() == 0
    r = c.post("/ledger/record/receive/", {**data, "lot_number": ""})
    assert r.status_code == 400 and b"is required" in r.content
    r = c.post("/ledger/record/receive/", data)
    assert r.status_code == 302
    (e,) = LedgerEntry.objects.all()
    assert (e.quantity, e.lot.lot_number) == (Decimal(30), "R1")


def test_waste_form_wrong_witness_password(
    client_as: Any, custodian: User, nurse: User, safe: StorageLocation, stocked: Lot, dosing_session: Any
) -> None:
    actions.do_withdraw_for_session(
        actor=custodian, session=dosing_session, lot=stocked, location=safe, quantity="10"
    )
    c = client_as(custodian)
    base = {"session": dosing_session.pk, "lot": stocked.pk, "quantity": "2", "witness": nurse.pk}
    before = LedgerEntry.objects.count()
    r = c.post("/ledger/record/waste/", {**base, "witness_password": "bad"})
    assert r.status_code == 400 and b"password is not correct" in r.content
    assert LedgerEntry.objects.count() == before
    r = c.post("/ledger/record/waste/", {**base, "witness_password": PW})
    assert r.status_code == 302
    assert LedgerEntry.objects.count() == before + 1


def test_count_case_and_deadline_pages(
    client_as: Any, custodian: User, safe: StorageLocation, stocked: Lot
) -> None:
    _, theft = actions.do_report_theft_loss(
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="1",
        description="missing",
        discovered_on=dt.date(2026, 3, 6),
    )
    c = client_as(custodian)
    page = c.get("/ledger/").content.decode()
    assert "Written notice of the theft or significant loss" in page and "overdue" in page
    r = c.get(f"/ledger/cases/{theft.pk}/")
    assert r.status_code == 200 and b"DEA Form 106" in r.content
    d = theft.deadlines.get(code="dea_form_106")
    assert c.post(f"/ledger/cases/{theft.pk}/", {"deadline": d.pk, "reference": "F106-1"}).status_code == 302
    d.refresh_from_db()
    assert d.completed_at is not None and d.reference == "F106-1"
    r = c.post(f"/ledger/cases/{theft.pk}/", {"resolution": "done"})
    assert r.status_code == 409  # written notice still pending


def test_verify_page(client_as: Any, auditor: User, stocked: Lot) -> None:
    r = client_as(auditor).get("/ledger/verify/")
    assert r.status_code == 200 and b"Intact." in r.content and b"1 entries of this clinic" in r.content


def _us_register_fixture(
    custodian: User, prescriber: User, nurse: User, safe: StorageLocation, stocked: Lot, dosing_session: Any
) -> None:
    actions.do_withdraw_for_session(
        actor=custodian, session=dosing_session, lot=stocked, location=safe, quantity="1"
    )
    actions.do_record_administration(
        actor=prescriber, session=dosing_session, lot=stocked, quantity="0.7", prescriber=prescriber
    )
    actions.do_record_waste(
        actor=prescriber,
        session=dosing_session,
        lot=stocked,
        quantity="0.3",
        witness=nurse,
        witness_password=PW,
    )


def test_register_csv_contents(
    client_as: Any,
    custodian: User,
    prescriber: User,
    nurse: User,
    auditor: User,
    site: Any,
    safe: StorageLocation,
    stocked: Lot,
    dosing_session: Any,
    patient: Any,
) -> None:
    patient.address_line, patient.city = "5 Oak Ave", "Sacramento"
    patient.save()
    _us_register_fixture(custodian, prescriber, nurse, safe, stocked, dosing_session)
    today = timezone.localdate().isoformat()
    r = client_as(auditor).get(
        f"/ledger/register/?site={site.pk}&product={stocked.product.pk}&start={today}&end={today}&format=csv"
    )
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == ["Controlled substance dispensing and administration record (21 CFR 1304.22)"]
    assert rows[3] == ["Opening balance", "0 mL"]
    header = rows[4]
    assert header == [
        "Date",
        "Record",
        "Lot / expiry",
        "Patient name",
        "Patient address",
        "Supplier / recipient (name, address, DEA no.)",
        "Received",
        "Administered / disposed",
        "By (name)",
        "Witness",
        "Balance",
    ]
    body = [dict(zip(header, row, strict=True)) for row in rows[5:-1]]
    assert [b["Record"] for b in body] == ["Receipt", "Administration", "Waste"]
    assert (
        body[0]["Supplier / recipient (name, address, DEA no.)"]
        == "Acme Pharma, 1 Main St, Sacramento CA, reg. RA1234563"
    )
    assert body[0]["Received"] == "20 mL" and body[0]["Balance"] == "20 mL"
    assert body[1]["Patient name"] == "Rivera, Alex (MRN MRN-1)"
    assert body[1]["Patient address"] == "5 Oak Ave, Sacramento"
    assert body[1]["Administered / disposed"] == "0.7 mL" and body[1]["Balance"] == "19.3 mL"
    assert body[1]["By (name)"] == str(prescriber)
    assert body[2]["Witness"] == str(nurse) and body[2]["Balance"] == "19 mL"
    assert rows[-1] == ["Closing balance", "19 mL"]


def test_register_pdf_and_au_format(
    client_as: Any,
    custodian: User,
    prescriber: User,
    nurse: User,
    site: Any,
    safe: StorageLocation,
    stocked: Lot,
    dosing_session: Any,
) -> None:
    site.jurisdiction = "AU-NSW"
    site.save()
    _us_register_fixture(custodian, prescriber, nurse, safe, stocked, dosing_session)
    today = timezone.localdate().isoformat()
    c = client_as(custodian)
    r = c.get(f"/ledger/register/?site={site.pk}&product={stocked.product.pk}&start={today}&end={today}")
    assert r.status_code == 200
    page = r.content.decode()
    assert "Drug of addiction (S8) register" in page and "Witness (countersigned)" in page
    reg = selectors.register_for(
        site=site,
        product=stocked.product,
        start=timezone.now() - dt.timedelta(days=1),
        end=timezone.now() + dt.timedelta(days=1),
    )
    assert [r.cells[reg.headers.index("Prescriber")] for r in reg.rows] == ["", str(prescriber), ""]
    assert [r.cells[reg.headers.index("Balance")] for r in reg.rows] == ["20 mL", "19.3 mL", "19 mL"]
    r = c.get(
        f"/ledger/register/?site={site.pk}&product={stocked.product.pk}&start={today}&end={today}&format=pdf"
    )
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")


def test_register_bad_period(client_as: Any, custodian: User, site: Any, product: Product) -> None:
    r = client_as(custodian).get(
        f"/ledger/register/?site={site.pk}&product={product.pk}&start=2026-02-01&end=2026-01-01"
    )
    assert r.status_code == 400 and b"must not be before the start" in r.content


def test_inventory_report(
    client_as: Any, custodian: User, site: Any, safe: StorageLocation, stocked: Lot
) -> None:
    actions.do_record_count(
        actor=custodian, lot=stocked, location=safe, counted="20", kind="initial", timing="opening"
    )
    today = timezone.localdate().isoformat()
    r = client_as(custodian).get(f"/ledger/inventory/?site={site.pk}&start={today}&end={today}&format=csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[2][0] == "Product (name, form, strength)"
    assert rows[3][:8] == [
        "Ketamine hydrochloride injection, injection solution, 50 mg/mL",
        "NDC 0409-2051-05",
        rows[3][2],
        "Safe",
        "10 mL",
        "20 mL",
        "2",
        "20 mL",
    ]
    assert rows[3][9:11] == ["initial", "opening"]
    r = client_as(custodian).get(f"/ledger/inventory/?site={site.pk}&start={today}&end={today}")
    assert r.content.startswith(b"%PDF-")


def test_api_balances_verify_and_count(
    client_as: Any,
    custodian: User,
    auditor: User,
    clinic: Any,
    safe: StorageLocation,
    stocked: Lot,
    other_clinic: Any,
) -> None:
    c = client_as(auditor)
    r = c.get(f"/api/v1/ledger/clinics/{clinic.pk}/balances")
    assert r.status_code == 200
    (b,) = r.json()
    assert (b["lot_number"], Decimal(b["quantity"]), Decimal(b["mg"])) == ("L1", Decimal(20), Decimal(1000))
    r = c.get(f"/api/v1/ledger/clinics/{clinic.pk}/verify")
    assert r.json()["ok"] is True and r.json()["entries"] == 1
    assert c.get(f"/api/v1/ledger/clinics/{other_clinic.pk}/balances").status_code == 404
    r = c.post(
        f"/api/v1/ledger/clinics/{clinic.pk}/counts",
        {"lot_id": stocked.pk, "location_id": safe.pk, "counted": "20"},
        content_type="application/json",
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = client_as(custodian).post(
        f"/api/v1/ledger/clinics/{clinic.pk}/counts",
        {"lot_id": stocked.pk, "location_id": safe.pk, "counted": "19"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["case_id"] is not None
    r = client_as(custodian).post(
        f"/api/v1/ledger/clinics/{clinic.pk}/transfers",
        {"lot_id": stocked.pk, "from_location_id": safe.pk, "to_location_id": safe.pk, "quantity": "1"},
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"to_location": ["must differ from the source location"]}


@pytest.mark.parametrize(
    "kind",
    [
        "receive",
        "transfer",
        "withdraw",
        "administer",
        "waste",
        "breakage",
        "return",
        "return-supplier",
        "destroy",
        "count",
        "adjust",
        "loss",
    ],
)
def test_every_form_renders(client_as: Any, custodian: User, kind: str, stocked: Lot) -> None:
    assert client_as(custodian).get(f"/ledger/record/{kind}/").status_code == 200


def test_cli_register_csv(site: Any, stocked: Lot, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from ketaclinic.cli import app

    today = timezone.localdate().isoformat()
    args = [
        "ledger",
        "register",
        "--site",
        str(site.pk),
        "--product",
        str(stocked.product.pk),
        "--from",
        today,
        "--to",
        today,
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[3] == "Opening balance,0 mL" and lines[-1] == "Closing balance,20 mL"
    assert lines[5].split(",")[1] == "Receipt"
    out = tmp_path / "reg.pdf"
    res = CliRunner().invoke(app, [*args, "--format", "pdf", "--out", str(out)])
    assert res.exit_code == 0 and out.read_bytes().startswith(b"%PDF-")
    res = CliRunner().invoke(app, [*args[:-2], "--to", "2000-01-01"])
    assert res.exit_code == 2 and "--to: must not be before --from" in res.output
