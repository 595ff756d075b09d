"""Doses draw from the controlled-substance ledger: withdrawal for the session, the ledger administration in the
same transaction as the dose, the remainder wasted with a witness, discharge refused until the session
reconciles, and sessions at a site without stock cannot be dosed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from tests.web.conftest import PASSWORD
from tests.web.treatment.treatment_helpers import counts, session_for, stock_at, to_pre_dose
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.core.ledger import EntryType
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.ledger import actions as L
from ketaclinic.web.ledger.models import ChainHead, LedgerEntry
from ketaclinic.web.ledger.selectors import location_balance, session_balance
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import Administration, DosingSession
from ketaclinic.web.treatment.stock import reconciliation, reconciliation_problems

pytestmark = pytest.mark.django_db
D = Decimal


def ledger_state() -> tuple[int, int, int]:
    head = ChainHead.objects.get(pk=1)
    return (
        LedgerEntry.objects.count(),
        head.seq,
        AuditEvent.objects.filter(action__startswith="ledger.").count(),
    )


def _dose_and_monitor(nurse: Any, s: DosingSession, lot: Any) -> Administration:
    t0 = timezone.now() - dt.timedelta(minutes=80)
    admin = A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg="35", lot_id=lot.pk, duration_min=40, administered_at=t0
    )
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=40))
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 122, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    return admin


def test_full_iv_session_goes_through_the_ledger(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient)  # 35 mg ordered (70 kg x 0.5 mg/kg)
    lot, safe = stock_at(s.site, "ketamine")  # 100 mL of 50 mg/mL received
    assert location_balance(lot=lot, location=safe) == D("100.000")
    to_pre_dose(nurse, s, withdraw=False)
    withdrawal = A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=lot.pk, location_id=safe.pk)
    # Default: the ordered 0.7 mL in whole 10 mL vials.
    assert (withdrawal.entry_type, withdrawal.quantity, withdrawal.session_id) == (
        int(EntryType.WITHDRAWAL),
        D("10.000"),
        s.pk,
    )
    assert withdrawal.actor == nurse and withdrawal.patient_id == patient.pk
    admin = _dose_and_monitor(nurse, s, lot)
    entry = admin.ledger_entry
    assert (entry.entry_type, entry.quantity, entry.session_id, entry.patient_id, entry.location_id) == (
        int(EntryType.ADMINISTRATION),
        D("0.700"),
        s.pk,
        patient.pk,
        safe.pk,
    )
    assert entry.detail["prescriber_id"] == str(prescriber.pk)
    assert admin.lot_number == "KET-L1"

    # Discharge is refused while 9.3 mL is unaccounted for, with the reason; nothing changes.
    with pytest.raises(ConflictError) as exc:
        A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    assert exc.value.fields == {
        "ledger": [
            "lot KET-L1: withdrawn 10 mL, administered 0.7 mL, wasted 0 mL, returned 0 mL: 9.3 mL is "
            "unaccounted for — waste the remainder with a witness (or return unopened stock) before discharge"
        ]
    }
    s.refresh_from_db()
    assert s.status == DosingSession.Status.MONITORING

    # The witness must authenticate: a wrong password stores nothing.
    before = ledger_state()
    with pytest.raises(ValidationFailed) as bad:
        A.do_waste_remainder(actor=nurse, session_id=s.pk, witness_id=prescriber.pk, witness_password="nope")
    assert bad.value.fields == {"witness_password": ["the witness's password is not correct"]}
    assert ledger_state() == before
    # The refused waste rolled back, but the witness's failed attempt stays counted and audited.
    prescriber.refresh_from_db()
    assert prescriber.failed_login_count == 1
    assert AuditEvent.objects.filter(action="auth.witness_failed", object_id=str(prescriber.pk)).count() == 1
    with pytest.raises(ValidationFailed) as self_witness:
        A.do_waste_remainder(actor=nurse, session_id=s.pk, witness_id=nurse.pk, witness_password=PASSWORD)
    assert self_witness.value.fields == {"witness": ["the witness must be someone other than you"]}
    assert ledger_state() == before

    (waste,) = A.do_waste_remainder(
        actor=nurse, session_id=s.pk, witness_id=prescriber.pk, witness_password=PASSWORD
    )
    assert (waste.entry_type, waste.quantity, waste.witness_1_id, waste.session_id) == (
        int(EntryType.WASTE),
        D("9.300"),
        prescriber.pk,
        s.pk,
    )
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    A.do_discharge(actor=nurse, session_id=s.pk)
    s.refresh_from_db()
    assert s.status == DosingSession.Status.DISCHARGED

    # The ledger: withdrawal, administration and waste linked to the session, in that order.
    assert list(
        LedgerEntry.objects.filter(session=s).order_by("seq").values_list("entry_type", "quantity")
    ) == [
        (int(EntryType.WITHDRAWAL), D("10.000")),
        (int(EntryType.ADMINISTRATION), D("0.700")),
        (int(EntryType.WASTE), D("9.300")),
    ]
    # Stock dropped by exactly the withdrawn amount; the session holds nothing and reconciles.
    assert location_balance(lot=lot, location=safe) == D("90.000")
    assert session_balance(session_ref=str(s.pk), lot=lot) == D("0.000")
    (row,) = reconciliation(s)
    assert (row.withdrawn, row.administered, row.wasted, row.returned, row.balanced) == (
        D("10.000"),
        D("0.700"),
        D("9.300"),
        D("0.000"),
        True,
    )
    assert reconciliation_problems(s) == []
    res = CliRunner().invoke(app, ["ledger", "verify", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["ok"], out["entries"], out["first_bad"]) == (True, 4, None)  # receipt + the three above


def test_esketamine_devices_come_from_the_ledger_without_waste(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient, "esketamine-trd")  # 56 mg: two 28 mg devices
    to_pre_dose(nurse, s)
    lot, safe = stock_at(s.site, "esketamine")
    assert location_balance(lot=lot, location=safe) == D("18.000")
    t0 = timezone.now() - dt.timedelta(minutes=30)
    A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg=28, administered_at=t0)
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=28, administered_at=t0 + dt.timedelta(minutes=5)
    )
    assert [a.ledger_entry.quantity for a in s.administrations.all()] == [D("1.000"), D("1.000")]
    assert reconciliation_problems(s) == []
    with pytest.raises(ValidationFailed) as exc:
        A.do_waste_remainder(
            actor=nurse, session_id=s.pk, witness_id=prescriber.pk, witness_password=PASSWORD
        )
    assert exc.value.fields == {"waste": ["the session holds no stock: nothing to waste"]}


def test_dose_and_ledger_administration_are_both_or_neither(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = session_for(prescriber, nurse, patient)
    to_pre_dose(nurse, s)
    lot, _ = stock_at(s.site, "ketamine")

    def refuse(**kw: Any) -> Any:
        raise ValidationFailed({"quantity": ["ledger refused"]})

    monkeypatch.setattr(L, "do_record_administration", refuse)
    before, ledger_before, snap = counts(), ledger_state(), session_balance(session_ref=str(s.pk), lot=lot)
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg="35", duration_min=40)
    assert exc.value.fields == {"dose_mg": ["ledger refused"]}
    assert counts() == before and ledger_state() == ledger_before
    assert session_balance(session_ref=str(s.pk), lot=lot) == snap == D("10.000")
    s.refresh_from_db()
    assert (s.status, s.first_dose_at) == ("pre_dose_checks", None)


def test_dose_without_withdrawal_and_more_than_held_are_refused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient, dose_mg="35")
    to_pre_dose(nurse, s, withdraw=False)
    stock_at(s.site, "ketamine")
    before, ledger_before = counts(), ledger_state()
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg="35", duration_min=40)
    assert exc.value.fields == {
        "lot": [
            "withdraw stock for this session from the controlled-substance ledger before recording a dose"
        ]
    }
    assert counts() == before and ledger_state() == ledger_before
    lot, safe = stock_at(s.site, "ketamine")
    A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=lot.pk, location_id=safe.pk, quantity="0.5")
    before, ledger_before = counts(), ledger_state()
    with pytest.raises(ValidationFailed) as exc:  # 35 mg = 0.7 mL but only 0.5 mL was withdrawn
        A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg="35", duration_min=40)
    assert exc.value.fields == {
        "dose_mg": ["the session holds 0.5 mL of lot KET-L1; 0.7 is more than was withdrawn"]
    }
    assert counts() == before and ledger_state() == ledger_before


def test_site_without_ledger_stock_cannot_be_dosed(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    to_pre_dose(nurse, s, withdraw=False)
    before, ledger_before = counts(), ledger_state()
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg="35", duration_min=40)
    assert list(exc.value.fields) == ["lot"]
    assert exc.value.fields["lot"][0].startswith(
        "no ketamine product is set up in the controlled-substance ledger: the custodian must add the product"
    )
    with pytest.raises(ValidationFailed) as exc2:
        A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id="", location_id="")
    assert exc2.value.fields == exc.value.fields
    assert counts() == before and ledger_state() == ledger_before


def test_withdrawal_is_checked_against_the_session(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, site: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    to_pre_dose(nurse, s, withdraw=False)
    ket, safe = stock_at(site, "ketamine")
    esk, _ = stock_at(site, "esketamine")
    before = ledger_state()
    with pytest.raises(ValidationFailed) as exc:
        A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=esk.pk, location_id=safe.pk)
    assert exc.value.fields == {"lot": ["lot ESK1 is esketamine; this session's protocol gives ketamine"]}
    with pytest.raises(ValidationFailed) as exc:
        A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=ket.pk, location_id=safe.pk, quantity="101")
    assert exc.value.fields == {
        "quantity": ["only 100 mL of lot KET-L1 at Safe; 101 would make the balance negative"]
    }
    assert ledger_state() == before


def test_cancel_refused_while_holding_stock_until_returned(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    to_pre_dose(nurse, s)
    lot, safe = stock_at(s.site, "ketamine")
    with pytest.raises(ConflictError) as exc:
        A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    assert exc.value.fields == {"ledger": ["return the unopened stock to storage before cancelling"]}
    (ret,) = A.do_return_unused_stock(actor=nurse, session_id=s.pk)
    assert (ret.entry_type, ret.quantity) == (int(EntryType.RETURN_TO_STOCK), D("10.000"))
    assert location_balance(lot=lot, location=safe) == D("100.000")
    A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    s.refresh_from_db()
    assert s.status == DosingSession.Status.CANCELLED


def test_nurse_moves_session_custody_but_not_storage(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, site: Any
) -> None:
    lot, safe = stock_at(site, "ketamine")
    before = ledger_state()
    with pytest.raises(PermissionDeniedError):
        L.do_transfer_stock(actor=nurse, lot=lot, from_location=safe, to_location=safe, quantity="1")
    assert ledger_state() == before
