"""Every entry type, every refusal (nothing stored), balances, witnesses and roles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.core.ledger import EntryType
from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import (
    Case,
    CaseDeadline,
    ChainHead,
    LedgerEntry,
    Lot,
    Product,
    StorageLocation,
    Supplier,
)
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed

D = Decimal
PW = "correct-horse-battery-9"


def snapshot() -> tuple[int, int, int, int, tuple[int, str]]:
    head = ChainHead.objects.get(pk=1)
    return (
        LedgerEntry.objects.count(),
        AuditEvent.objects.filter(action__startswith="ledger.").count(),
        Case.objects.count(),
        Lot.objects.count(),
        (head.seq, head.hash),
    )


def refused(fn: Any, field: str, **kw: Any) -> ValidationFailed:
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        fn(**kw)
    assert field in exc.value.fields, exc.value.fields
    assert snapshot() == before
    return exc.value


# --- receipts ---------------------------------------------------------------------------------------


def test_receipt_creates_lot_entry_and_audit(custodian: User, safe: StorageLocation, stocked: Lot) -> None:
    e = LedgerEntry.objects.get()
    assert (e.seq, e.type, e.quantity, e.location_id, e.lot_id) == (
        1,
        EntryType.RECEIPT,
        D("20.000"),
        safe.pk,
        stocked.pk,
    )
    assert e.prev_hash == "0" * 64 and len(e.hash) == 64
    assert e.detail == {"supplier_id": str(e.supplier_id), "invoice": "INV-1"}
    assert ChainHead.objects.get(pk=1).seq == 1
    assert selectors.location_balance(lot=stocked, location=safe) == D(20)
    audit = AuditEvent.objects.get(action="ledger.receipt")
    assert audit.detail["seq"] == 1 and audit.detail["quantity"] == "20.000"
    assert selectors.chain_verify().ok


@pytest.mark.parametrize(
    ("reg_number", "expires", "message"),
    [
        ("", 30, "supplier Acme Pharma has no registration number on file"),
        ("RA1234563", None, "supplier Acme Pharma's registration has no expiry date on file"),
        ("RA1234563", -1, "supplier Acme Pharma's registration RA1234563 expired on "),
    ],
)
def test_receipt_from_unregistered_supplier_refused(
    custodian: User,
    safe: StorageLocation,
    product: Product,
    supplier: Supplier,
    reg_number: str,
    expires: int | None,
    message: str,
) -> None:
    Supplier.objects.filter(pk=supplier.pk).update(
        registration_number=reg_number,
        registration_expires_on=None
        if expires is None
        else timezone.localdate() + dt.timedelta(days=expires),
    )
    supplier.refresh_from_db()
    err = refused(
        actions.do_receive_stock,
        "supplier",
        actor=custodian,
        location=safe,
        product=product,
        supplier=supplier,
        lot_number="L9",
        lot_expires_on=timezone.localdate() + dt.timedelta(days=90),
        quantity="10",
    )
    assert err.fields["supplier"][0].startswith(message)


def test_receipt_refusals(
    custodian: User, safe: StorageLocation, product: Product, supplier: Supplier, stocked: Lot
) -> None:
    ok_exp = timezone.localdate() + dt.timedelta(days=90)
    base = {"actor": custodian, "location": safe, "product": product, "supplier": supplier}
    refused(
        actions.do_receive_stock,
        "lot_expires_on",
        **base,
        lot_number="L9",
        lot_expires_on=timezone.localdate() - dt.timedelta(days=1),
        quantity="10",
    )
    refused(
        actions.do_receive_stock, "quantity", **base, lot_number="L9", lot_expires_on=ok_exp, quantity="0"
    )
    refused(
        actions.do_receive_stock, "quantity", **base, lot_number="L9", lot_expires_on=ok_exp, quantity="-1"
    )
    refused(
        actions.do_receive_stock,
        "quantity",
        **base,
        lot_number="L9",
        lot_expires_on=ok_exp,
        quantity="1.0005",
    )
    refused(
        actions.do_receive_stock, "quantity", **base, lot_number="L9", lot_expires_on=ok_exp, quantity="abc"
    )
    refused(
        actions.do_receive_stock, "lot_number", **base, lot_number=" ", lot_expires_on=ok_exp, quantity="1"
    )
    # Same lot number with a different expiry than on file.
    refused(
        actions.do_receive_stock,
        "lot_expires_on",
        **base,
        lot_number="L1",
        lot_expires_on=ok_exp,
        quantity="1",
    )
    refused(
        actions.do_receive_stock,
        "occurred_at",
        **base,
        lot_number="L9",
        lot_expires_on=ok_exp,
        quantity="1",
        occurred_at=timezone.now() + dt.timedelta(days=1),
    )


# --- roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["nurse", "auditor", "front_desk", "clinic_admin"])
def test_only_custodians_and_prescribers_move_stock(
    make_user: Any, role: str, safe: StorageLocation, product: Product, supplier: Supplier
) -> None:
    user = make_user(role)
    before = snapshot()
    with pytest.raises(PermissionDeniedError):
        actions.do_receive_stock(
            actor=user,
            location=safe,
            product=product,
            supplier=supplier,
            lot_number="L5",
            lot_expires_on=timezone.localdate() + dt.timedelta(days=90),
            quantity="10",
        )
    assert snapshot() == before


def test_prescriber_may_move_stock(
    prescriber: User, safe: StorageLocation, product: Product, supplier: Supplier
) -> None:
    e = actions.do_receive_stock(
        actor=prescriber,
        location=safe,
        product=product,
        supplier=supplier,
        lot_number="P1",
        lot_expires_on=timezone.localdate() + dt.timedelta(days=90),
        quantity="10",
    )
    assert e.actor_id == prescriber.pk


def test_other_clinic_location_refused(
    custodian: User, other_clinic: Any, product: Product, supplier: Supplier
) -> None:
    from ketaclinic.web.clinics.models import Site

    other_site = Site.objects.create(clinic=other_clinic, name="X", jurisdiction="US-NY")
    loc = StorageLocation.objects.create(site=other_site, name="Safe")
    before = snapshot()
    with pytest.raises(PermissionDeniedError):
        actions.do_receive_stock(
            actor=custodian,
            location=loc,
            product=product,
            supplier=supplier,
            lot_number="Z",
            lot_expires_on=timezone.localdate() + dt.timedelta(days=9),
            quantity="1",
        )
    assert snapshot() == before


# --- session custody --------------------------------------------------------------------------------


def test_withdraw_administer_waste_reconciles(
    custodian: User,
    prescriber: User,
    witness: User,
    safe: StorageLocation,
    stocked: Lot,
    make_session: Any,
    patient: Any,
) -> None:
    s = make_session()
    w = actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="10")
    a = actions.do_record_administration(
        actor=prescriber, session=s, lot=stocked, quantity="7", prescriber=prescriber
    )
    x = actions.do_record_waste(
        actor=prescriber, session=s, lot=stocked, quantity="3", witness=witness, witness_password=PW
    )
    assert [e.type for e in (w, a, x)] == [EntryType.WITHDRAWAL, EntryType.ADMINISTRATION, EntryType.WASTE]
    assert a.patient_id == patient.pk and a.location_id == safe.pk and a.session_ref == str(s.pk)
    assert a.detail == {"prescriber_id": str(prescriber.pk), "prescriber": str(prescriber)}
    assert x.witness_1_id == witness.pk
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)
    assert selectors.session_balance(session_ref=str(s.pk), lot=stocked) == D(0)
    (rec,) = selectors.session_reconciliation(str(s.pk))
    assert (rec.withdrawn, rec.administered, rec.wasted, rec.returned, rec.balanced) == (
        D(10),
        D(7),
        D(3),
        D(0),
        True,
    )
    assert selectors.unreconciled_sessions(stocked.product.clinic) == []
    assert selectors.chain_verify().ok


def test_unreconciled_session_is_listed(
    custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="10")
    actions.do_record_administration(actor=custodian, session=s, lot=stocked, quantity="6.5")
    (open_,) = selectors.unreconciled_sessions(stocked.product.clinic)
    assert (open_.session_ref, open_.withdrawn, open_.outstanding) == (str(s.pk), D(10), D("3.5"))


def test_return_to_stock(custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any) -> None:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="20")
    r = actions.do_return_to_stock(actor=custodian, session=s, lot=stocked, quantity="10")
    assert r.type is EntryType.RETURN_TO_STOCK and r.location_id == safe.pk
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)
    assert selectors.session_balance(session_ref=str(s.pk), lot=stocked) == D(10)


def test_withdrawal_beyond_balance_refused(
    custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    err = refused(
        actions.do_withdraw_for_session,
        "quantity",
        actor=custodian,
        session=make_session(),
        lot=stocked,
        location=safe,
        quantity="20.001",
    )
    assert err.fields["quantity"] == ["only 20 mL of lot L1 at Safe; 20.001 would make the balance negative"]


def test_custody_overdraw_refused(
    custodian: User, witness: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="5")
    err = refused(
        actions.do_record_administration, "quantity", actor=custodian, session=s, lot=stocked, quantity="6"
    )
    assert err.fields["quantity"] == ["the session holds 5 mL of lot L1; 6 is more than was withdrawn"]
    refused(
        actions.do_record_waste,
        "quantity",
        actor=custodian,
        session=s,
        lot=stocked,
        quantity="5.5",
        witness=witness,
        witness_password=PW,
    )
    refused(actions.do_return_to_stock, "quantity", actor=custodian, session=s, lot=stocked, quantity="6")
    # Administration in a session that never withdrew.
    refused(
        actions.do_record_administration,
        "quantity",
        actor=custodian,
        session=make_session(),
        lot=stocked,
        quantity="1",
    )


def test_expired_lot_cannot_be_withdrawn(
    custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    Lot.objects.filter(pk=stocked.pk).update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    stocked.refresh_from_db()
    refused(
        actions.do_withdraw_for_session,
        "lot",
        actor=custodian,
        session=make_session(),
        lot=stocked,
        location=safe,
        quantity="1",
    )


# --- witnesses --------------------------------------------------------------------------------------


def test_waste_witness_refusals(
    custodian: User,
    witness: User,
    auditor: User,
    front_desk: User,
    safe: StorageLocation,
    stocked: Lot,
    make_session: Any,
) -> None:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="5")
    base = {"actor": custodian, "session": s, "lot": stocked, "quantity": "1"}
    refused(actions.do_record_waste, "witness_password", **base, witness=witness, witness_password="wrong")
    refused(actions.do_record_waste, "witness_password", **base, witness=witness, witness_password="")
    assert refused(actions.do_record_waste, "witness", **base, witness=custodian, witness_password=PW).fields[
        "witness"
    ] == ["the witness must be someone other than you"]
    refused(actions.do_record_waste, "witness", **base, witness=auditor, witness_password=PW)
    refused(actions.do_record_waste, "witness", **base, witness=front_desk, witness_password=PW)
    refused(actions.do_record_waste, "witness", **base, witness=None, witness_password=PW)
    witness.is_active = False
    witness.save()
    refused(actions.do_record_waste, "witness", **base, witness=witness, witness_password=PW)


def test_breakage_from_storage_needs_two_witnesses_in_us(
    custodian: User, witness: User, prescriber: User, safe: StorageLocation, stocked: Lot
) -> None:
    base = {"actor": custodian, "location": safe, "lot": stocked, "quantity": "10", "reason": "vial dropped"}
    err = refused(actions.do_record_waste, "witnesses", **base, witness=witness, witness_password=PW)
    assert err.fields["witnesses"][0].startswith("a waste needs 2 witnesses (US: ")
    e = actions.do_record_waste(
        **base, witness=witness, witness_password=PW, second_witness=prescriber, second_witness_password=PW
    )
    assert (e.witness_1_id, e.witness_2_id, e.session_ref) == (witness.pk, prescriber.pk, "")
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)


def test_destruction_two_witnesses(
    custodian: User, witness: User, prescriber: User, safe: StorageLocation, stocked: Lot
) -> None:
    base = {
        "actor": custodian,
        "location": safe,
        "lot": stocked,
        "quantity": "10",
        "method": "denatured in kit",
    }
    refused(
        actions.do_record_destruction,
        "second_witness",
        **base,
        witness=witness,
        witness_password=PW,
        second_witness=witness,
        second_witness_password=PW,
    )
    refused(
        actions.do_record_destruction,
        "second_witness_password",
        **base,
        witness=witness,
        witness_password=PW,
        second_witness=prescriber,
        second_witness_password="nope",
    )
    refused(
        actions.do_record_destruction,
        "method",
        **{**base, "method": " "},
        witness=witness,
        witness_password=PW,
        second_witness=prescriber,
        second_witness_password=PW,
    )
    refused(
        actions.do_record_destruction,
        "quantity",
        **{**base, "quantity": "21"},
        witness=witness,
        witness_password=PW,
        second_witness=prescriber,
        second_witness_password=PW,
    )
    e = actions.do_record_destruction(
        **base, witness=witness, witness_password=PW, second_witness=prescriber, second_witness_password=PW
    )
    assert e.type is EntryType.DESTRUCTION and e.reason == "denatured in kit"
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)


# --- transfers, returns, adjustments --------------------------------------------------------------


def test_transfer(custodian: User, safe: StorageLocation, cart: StorageLocation, stocked: Lot) -> None:
    e = actions.do_transfer_stock(
        actor=custodian, lot=stocked, from_location=safe, to_location=cart, quantity="7.5"
    )
    assert (e.type, e.location_id, e.to_location_id) == (EntryType.TRANSFER, safe.pk, cart.pk)
    assert selectors.location_balance(lot=stocked, location=safe) == D("12.5")
    assert selectors.location_balance(lot=stocked, location=cart) == D("7.5")
    refused(
        actions.do_transfer_stock,
        "quantity",
        actor=custodian,
        lot=stocked,
        from_location=cart,
        to_location=safe,
        quantity="8",
    )
    refused(
        actions.do_transfer_stock,
        "to_location",
        actor=custodian,
        lot=stocked,
        from_location=cart,
        to_location=cart,
        quantity="1",
    )


def test_return_to_supplier(custodian: User, safe: StorageLocation, stocked: Lot, supplier: Supplier) -> None:
    e = actions.do_return_to_supplier(
        actor=custodian, lot=stocked, location=safe, quantity="10", supplier=supplier, reason="recall"
    )
    assert e.type is EntryType.RETURN_TO_SUPPLIER and e.supplier_id == supplier.pk
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)
    refused(
        actions.do_return_to_supplier,
        "quantity",
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="11",
        supplier=supplier,
    )


def test_adjustment(custodian: User, safe: StorageLocation, stocked: Lot) -> None:
    e = actions.do_record_adjustment(
        actor=custodian, lot=stocked, location=safe, quantity="-0.5", reason="overfill estimate"
    )
    assert e.quantity == D("-0.5")
    assert selectors.location_balance(lot=stocked, location=safe) == D("19.5")
    actions.do_record_adjustment(
        actor=custodian, lot=stocked, location=safe, quantity="1", reason="found in fridge"
    )
    assert selectors.location_balance(lot=stocked, location=safe) == D("20.5")
    refused(
        actions.do_record_adjustment,
        "reason",
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="1",
        reason="",
    )
    refused(
        actions.do_record_adjustment,
        "quantity",
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="0",
        reason="x",
    )
    refused(
        actions.do_record_adjustment,
        "quantity",
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="-21",
        reason="x",
    )


# --- counts, cases, deadlines ---------------------------------------------------------------------


def test_matching_count_opens_no_case(custodian: User, safe: StorageLocation, stocked: Lot) -> None:
    entry, case = actions.do_record_count(actor=custodian, lot=stocked, location=safe, counted="20")
    assert case is None
    assert (entry.type, entry.quantity, entry.expected_quantity) == (EntryType.COUNT, D(20), D(20))
    assert entry.detail == {"kind": "routine", "timing": ""}
    assert selectors.location_balance(lot=stocked, location=safe) == D(20)


def test_count_discrepancy_then_theft_loss_with_us_deadlines(
    custodian: User, safe: StorageLocation, stocked: Lot
) -> None:
    _entry, case = actions.do_record_count(actor=custodian, lot=stocked, location=safe, counted="10")
    assert case is not None and case.kind == Case.Kind.COUNT_DISCREPANCY and case.difference == D(-10)
    assert selectors.location_balance(lot=stocked, location=safe) == D(20)  # a count moves nothing
    found = dt.date(2026, 3, 6)  # a Friday
    loss, theft = actions.do_report_theft_loss(
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="10",
        description="vial missing from safe",
        discovered_on=found,
        case=case,
    )
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED and case.resolving_entry_id == loss.pk
    assert selectors.location_balance(lot=stocked, location=safe) == D(10)
    assert [(d.code, d.due_on) for d in theft.deadlines.all()] == [
        ("dea_written_notice", dt.date(2026, 3, 9)),
        ("dea_form_106", dt.date(2026, 4, 20)),
    ]
    assert [d.code for d in selectors.pending_deadlines(stocked.product.clinic)] == [
        "dea_written_notice",
        "dea_form_106",
    ]
    # The theft case cannot close until both reports are made.
    with pytest.raises(ConflictError):
        actions.do_resolve_case(actor=custodian, case=theft, resolution="reported")
    for d in CaseDeadline.objects.filter(case=theft):
        actions.do_complete_deadline(actor=custodian, deadline=d, reference="DEA-106-XYZ")
    with pytest.raises(ConflictError):
        actions.do_complete_deadline(
            actor=custodian, deadline=CaseDeadline.objects.filter(case=theft).first()
        )
    actions.do_resolve_case(actor=custodian, case=theft, resolution="reported to DEA and police")
    assert list(selectors.open_cases(stocked.product.clinic)) == []


def test_inventory_needs_timing(custodian: User, safe: StorageLocation, stocked: Lot) -> None:
    refused(
        actions.do_record_count,
        "timing",
        actor=custodian,
        lot=stocked,
        location=safe,
        counted="20",
        kind="biennial",
    )
    refused(
        actions.do_record_count,
        "kind",
        actor=custodian,
        lot=stocked,
        location=safe,
        counted="20",
        kind="annual",
    )
    refused(actions.do_record_count, "counted", actor=custodian, lot=stocked, location=safe, counted="-1")
    _e, _ = actions.do_record_count(
        actor=custodian, lot=stocked, location=safe, counted="20", kind="initial", timing="opening"
    )
    (status,) = selectors.inventory_status(stocked.product.clinic)
    assert status.last_on == timezone.localdate()
    assert status.due_on == timezone.localdate().replace(year=timezone.localdate().year + 2)


def test_every_entry_type_verifies_and_matches_core_projection(
    custodian: User,
    witness: User,
    prescriber: User,
    safe: StorageLocation,
    cart: StorageLocation,
    stocked: Lot,
    supplier: Supplier,
    make_session: Any,
) -> None:
    s = make_session()
    actions.do_transfer_stock(
        actor=custodian, lot=stocked, from_location=safe, to_location=cart, quantity="10"
    )
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=cart, quantity="6")
    actions.do_record_administration(actor=custodian, session=s, lot=stocked, quantity="3")
    actions.do_record_waste(
        actor=custodian, session=s, lot=stocked, quantity="1", witness=witness, witness_password=PW
    )
    actions.do_return_to_stock(actor=custodian, session=s, lot=stocked, quantity="2")
    actions.do_return_to_supplier(
        actor=custodian, lot=stocked, location=safe, quantity="1", supplier=supplier
    )
    actions.do_record_destruction(
        actor=custodian,
        lot=stocked,
        location=safe,
        quantity="1",
        method="kit",
        witness=witness,
        witness_password=PW,
        second_witness=prescriber,
        second_witness_password=PW,
    )
    actions.do_record_adjustment(actor=custodian, lot=stocked, location=safe, quantity="-1", reason="spill")
    actions.do_report_theft_loss(
        actor=custodian, lot=stocked, location=safe, quantity="1", description="lost"
    )
    actions.do_record_count(actor=custodian, lot=stocked, location=cart, counted="6")
    types = list(LedgerEntry.objects.order_by("seq").values_list("entry_type", flat=True))
    assert sorted(set(types)) == [int(t) for t in EntryType]
    result = selectors.chain_verify()
    assert result.ok and result.checked == 11
    rows = {(r.location.name, r.quantity) for r in selectors.balances_for_clinic(stocked.product.clinic)}
    assert rows == {("Safe", D(6)), ("Cart", D(6))}
    assert selectors.location_balance(lot=stocked, location=safe) == D(6)
    assert selectors.location_balance(lot=stocked, location=cart) == D(6)


def test_real_dosing_session_and_dose_in_mg(
    custodian: User, nurse: User, safe: StorageLocation, stocked: Lot, dosing_session: Any, patient: Any
) -> None:
    w = actions.do_withdraw_for_session(
        actor=custodian, session=dosing_session, lot=stocked, location=safe, quantity="1"
    )
    a = actions.do_record_administration(actor=custodian, session=dosing_session, lot=stocked, dose_mg="35")
    assert (w.session_id, a.session_id, a.session_ref) == (
        dosing_session.pk,
        dosing_session.pk,
        str(dosing_session.pk),
    )
    assert a.quantity == D("0.7") and a.detail["dose_mg"] == "35" and a.patient_id == patient.pk
    assert list(dosing_session.ledger_entries.order_by("seq").values_list("entry_type", flat=True)) == [3, 4]
    refused(
        actions.do_record_administration,
        "dose_mg",
        actor=custodian,
        session=dosing_session,
        lot=stocked,
        dose_mg="0.0001",
    )
    refused(
        actions.do_record_administration, "quantity", actor=custodian, session=dosing_session, lot=stocked
    )
    refused(
        actions.do_record_administration,
        "quantity",
        actor=custodian,
        session=dosing_session,
        lot=stocked,
        dose_mg="16",
    )  # 0.32 mL > 0.3 mL left
    actions.do_record_waste(
        actor=custodian,
        session=dosing_session,
        lot=stocked,
        quantity="0.3",
        witness=nurse,
        witness_password=PW,
    )
    (rec,) = selectors.session_reconciliation(str(dosing_session.pk))
    assert rec.balanced
    # Exact decimal arithmetic on every database (SQLite's SUM would give 1 - 0.7 - 0.3 = 5.55e-17).
    assert selectors.session_balance(session_ref=str(dosing_session.pk), lot=stocked) == 0
    assert selectors.unreconciled_sessions(stocked.product.clinic) == []


def test_decimal_balances_are_exact(
    custodian: User, safe: StorageLocation, cart: StorageLocation, stocked: Lot, patient: Any
) -> None:
    for _ in range(3):
        actions.do_transfer_stock(
            actor=custodian, lot=stocked, from_location=safe, to_location=cart, quantity="0.1"
        )
    actions.do_transfer_stock(
        actor=custodian, lot=stocked, from_location=cart, to_location=safe, quantity="0.3"
    )
    assert selectors.location_balance(lot=stocked, location=cart) == 0
    assert selectors.location_balance(lot=stocked, location=safe) == D(20)
    actions.do_withdraw_for_session(
        actor=custodian,
        session=SimpleNamespace(pk=77, patient=patient),
        lot=stocked,
        location=safe,
        quantity="20",
    )
    assert selectors.location_balance(lot=stocked, location=safe) == 0
