"""A witness who needs two-factor sign-in gives a current authenticator code with their password."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
import pytest
from django.test import override_settings

from ketaclinic.web.accounts import twofactor
from ketaclinic.web.accounts.models import TotpDevice, User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.ledger import actions
from ketaclinic.web.ledger.models import LedgerEntry, Lot, StorageLocation
from ketaclinic.web.lib.errors import ValidationFailed

PW = "correct-horse-battery-9"
NOW = dt.datetime(2026, 12, 2, 10, 0, 5, tzinfo=dt.UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _enforced(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.KETACLINIC_2FA_ENFORCE = True  # the ledger conftest turns it off for the other tests
    monkeypatch.setattr(twofactor, "_now", lambda: NOW)


@pytest.fixture
def held(custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any) -> Any:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="5")
    return s


def _waste(custodian: User, s: Any, lot: Lot, witness: User, code: str | None, quantity: str = "1") -> Any:
    return actions.do_record_waste(
        actor=custodian,
        session=s,
        lot=lot,
        quantity=quantity,
        witness=witness,
        witness_password=PW,
        witness_code=code,
    )


def test_an_unenrolled_witness_who_needs_2fa_cannot_sign(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    entries = LedgerEntry.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        _waste(custodian, held, stocked, witness, None)
    assert refused.value.fields == {
        "witness_code": ["the witness must set up two-factor sign-in (at their next sign-in) before signing"]
    }
    assert LedgerEntry.objects.count() == entries


def test_an_enrolled_witness_gives_a_current_code_once(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    TotpDevice.objects.create(user=witness, secret=SECRET, confirmed_at=NOW)
    entries = LedgerEntry.objects.count()
    code = pyotp.TOTP(SECRET).at(NOW)
    with pytest.raises(ValidationFailed) as missing:
        _waste(custodian, held, stocked, witness, "")
    assert missing.value.fields == {"witness_code": ["enter the code from the witness's authenticator app"]}
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ValidationFailed) as bad:
        _waste(custodian, held, stocked, witness, wrong)
    assert bad.value.fields == {"witness_code": ["that code is not correct"]}
    # A wrong code and an impossible quantity give the same error: the code is checked before the stock.
    with pytest.raises(ValidationFailed) as bad_big:
        _waste(custodian, held, stocked, witness, wrong, quantity="500")
    assert bad_big.value.fields == bad.value.fields
    assert LedgerEntry.objects.count() == entries
    entry = _waste(custodian, held, stocked, witness, code)
    assert LedgerEntry.objects.count() == entries + 1 and entry.witness_1_id == witness.pk
    with pytest.raises(ValidationFailed) as replay:
        _waste(custodian, held, stocked, witness, code)
    assert replay.value.fields == {"witness_code": ["that code has been used already; wait for the next one"]}
    assert LedgerEntry.objects.count() == entries + 1
    actions_ = list(
        AuditEvent.objects.filter(action__startswith="auth.2fa")
        .order_by("pk")
        .values_list("action", "detail")
    )
    assert [(a, d["purpose"]) for a, d in actions_] == [
        ("auth.2fa_failed", "witness"),
        ("auth.2fa_failed", "witness"),
        ("auth.2fa_ok", "witness"),
        ("auth.2fa_replay_refused", "witness"),
    ]


@override_settings(KETACLINIC_2FA_ENFORCE=False)
def test_without_enforcement_an_unenrolled_witness_signs_with_the_password(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    entry = _waste(custodian, held, stocked, witness, None)
    assert entry.witness_1_id == witness.pk
