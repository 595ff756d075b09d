"""Witness signatures go through the sign-in path: counted, locked out, rate limited, audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.ledger import actions
from ketaclinic.web.ledger.models import LedgerEntry, Lot, StorageLocation
from ketaclinic.web.lib.errors import RateLimitedError, ValidationFailed

PW = "correct-horse-battery-9"


def _waste(custodian: User, s: Any, stocked: Lot, witness: User, password: str, quantity: str = "1") -> Any:
    return actions.do_record_waste(
        actor=custodian, session=s, lot=stocked, quantity=quantity, witness=witness, witness_password=password
    )


@pytest.fixture
def held(custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any) -> Any:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="5")
    return s


def test_wrong_password_error_does_not_depend_on_the_quantity(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    with pytest.raises(ValidationFailed) as possible:
        _waste(custodian, held, stocked, witness, "wrong", quantity="1")
    with pytest.raises(ValidationFailed) as impossible:
        _waste(custodian, held, stocked, witness, "wrong", quantity="500")
    assert (
        possible.value.fields
        == impossible.value.fields
        == {"witness_password": ["the witness's password is not correct"]}
    )
    # Only an authenticated witness reaches the balance check (and that success is audited).
    with pytest.raises(ValidationFailed) as after_auth:
        _waste(custodian, held, stocked, witness, PW, quantity="500")
    assert list(after_auth.value.fields) == ["quantity"]
    assert AuditEvent.objects.filter(action="auth.witness_ok", object_id=str(witness.pk)).count() == 1
    assert AuditEvent.objects.filter(action="auth.witness_failed", object_id=str(witness.pk)).count() == 2


def test_witness_failures_lock_the_witness_account(
    custodian: User, witness: User, stocked: Lot, held: Any, clinic: Any
) -> None:
    entries = LedgerEntry.objects.count()
    for _ in range(settings.KETACLINIC_LOCKOUT_THRESHOLD - 1):
        with pytest.raises(ValidationFailed):
            _waste(custodian, held, stocked, witness, "wrong")
    with pytest.raises(ValidationFailed) as locking:
        _waste(custodian, held, stocked, witness, "wrong")
    locked_msg = ["the witness's account is locked after repeated failed attempts; try again later"]
    assert locking.value.fields == {"witness_password": locked_msg}
    # Locked: the right password is refused too, and the witness cannot sign in either.
    with pytest.raises(ValidationFailed) as refused:
        _waste(custodian, held, stocked, witness, PW)
    assert refused.value.fields == {"witness_password": locked_msg}
    assert LedgerEntry.objects.count() == entries
    witness.refresh_from_db()
    assert witness.locked_until is not None
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert (lockout.detail["purpose"], lockout.clinic_id) == ("witness", clinic.pk)
    assert AuditEvent.objects.filter(action="auth.witness_refused_locked").count() == 1
    from django.test import Client

    r = Client().post("/accounts/login/", {"username": witness.username, "password": PW})
    assert r.status_code == 400 and b"temporarily locked" in r.content


def test_inactive_witness_refused_and_audited(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    User.objects.filter(pk=witness.pk).update(is_active=False)
    witness.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        _waste(custodian, held, stocked, witness, PW)
    assert exc.value.fields == {"witness": ["the witness's account is inactive"]}
    assert AuditEvent.objects.filter(action="auth.witness_refused_inactive").count() == 1


@override_settings(
    KETACLINIC_RATE_LIMITS={
        "sign_in_address": (100, 60),
        "sign_in_username": (100, 60),
        "witness_address": (100, 60),
        "witness_username": (2, 60),
    }
)
def test_witness_checks_are_rate_limited_per_witness(
    custodian: User, witness: User, stocked: Lot, held: Any
) -> None:
    request = RequestFactory().post("/ledger/record/waste/", REMOTE_ADDR="198.51.100.20")
    for _ in range(2):
        with pytest.raises(ValidationFailed):
            actions.do_record_waste(
                actor=custodian,
                session=held,
                lot=stocked,
                quantity="1",
                witness=witness,
                witness_password="wrong",
                request=request,
            )
    with pytest.raises(RateLimitedError) as limited:
        actions.do_record_waste(
            actor=custodian,
            session=held,
            lot=stocked,
            quantity="1",
            witness=witness,
            witness_password=PW,
            request=request,
        )
    assert limited.value.status == 429 and 1 <= limited.value.retry_after <= 61
    witness.refresh_from_db()
    assert witness.failed_login_count == 2  # the limited attempt checked no password


def test_a_signature_is_bound_to_its_witness_actor_and_clinic(
    custodian: User, witness: User, prescriber: User, stocked: Lot, held: Any, clinic: Any
) -> None:
    sig = actions.authenticate_witness(actor=custodian, clinic=clinic, witness=witness, password=PW)
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_waste(
            actor=prescriber, session=held, lot=stocked, quantity="1", witness=witness, witness_password=sig
        )
    assert exc.value.fields == {
        "witness": ["the witness signature belongs to another witness, actor or clinic"]
    }
    e = actions.do_record_waste(
        actor=custodian, session=held, lot=stocked, quantity="1", witness=witness, witness_password=sig
    )
    assert e.witness_1_id == witness.pk


def test_clinic_verification_reveals_nothing_of_other_clinics(
    custodian: User, stocked: Lot, other_clinic: Any, client_as: Any, clinic: Any
) -> None:
    from django.db import connection

    # Another clinic's ledger with three entries and then an altered one of its own.
    from ketaclinic.web.accounts.models import Membership
    from ketaclinic.web.clinics.models import Site
    from ketaclinic.web.ledger import selectors

    Membership.objects.create(user=custodian, clinic=other_clinic, role="custodian")
    custodian.__dict__.pop("_kc_memberships", None)
    other_site = Site.objects.create(clinic=other_clinic, name="Far", jurisdiction="US-CA")
    loc = actions.do_create_location(actor=custodian, site=other_site, name="Far safe")
    assert selectors.clinic_chain_verify(clinic) == {"ok": True, "entries": 1, "first_bad": None}
    assert selectors.clinic_chain_verify(other_clinic) == {"ok": True, "entries": 0, "first_bad": None}
    own = LedgerEntry.objects.get(clinic=clinic)
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER ledger_ledgerentry_no_update")
        else:
            cur.execute("DROP TRIGGER ledger_ledgerentry_no_update_delete ON ledger_ledgerentry")
        cur.execute("UPDATE ledger_ledgerentry SET reason = %s WHERE id = %s", ["forged", own.pk])
    r = client_as(custodian).get(f"/api/v1/ledger/clinics/{clinic.pk}/verify")
    assert r.json() == {
        "ok": False,
        "entries": 1,
        "first_bad": {
            "seq": own.seq,
            "position": 1,
            "problem": "altered",
            "message": f"entry {own.seq} no longer matches its hash",
        },
    }
    # The other clinic's verification does not learn of it.
    assert selectors.clinic_chain_verify(other_clinic) == {"ok": True, "entries": 0, "first_bad": None}
    assert loc.site_id == other_site.pk
