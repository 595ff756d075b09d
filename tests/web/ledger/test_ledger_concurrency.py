"""Two sessions racing for the last vial on PostgreSQL: exactly one withdrawal wins, the chain never forks."""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from ketaclinic.web.accounts.models import User
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import LedgerEntry, Lot, StorageLocation
from ketaclinic.web.lib.errors import ValidationFailed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.environ.get("KETACLINIC_TEST_POSTGRES") != "1", reason="needs KETACLINIC_TEST_POSTGRES=1"
    ),
    pytest.mark.django_db(transaction=True),
]


def _race(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_last_vial_race_exactly_one_wins(
    custodian: User, prescriber: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    assert connection.vendor == "postgresql"
    # Leave exactly one 10 mL vial.
    actions.do_withdraw_for_session(
        actor=custodian, session=make_session(), lot=stocked, location=safe, quantity="10"
    )
    sessions = [make_session(), make_session()]
    actors = [custodian, prescriber]
    results = _race(
        2,
        lambda i: actions.do_withdraw_for_session(
            actor=actors[i], session=sessions[i], lot=stocked, location=safe, quantity="10"
        ),
    )
    wins = [r for r in results if isinstance(r, LedgerEntry)]
    losses = [r for r in results if isinstance(r, ValidationFailed)]
    assert (len(wins), len(losses)) == (1, 1), results
    assert losses[0].fields["quantity"] == ["only 0 mL of lot L1 at Safe; 10 would make the balance negative"]
    assert selectors.location_balance(lot=stocked, location=safe) == Decimal(0)
    assert LedgerEntry.objects.count() == 3
    assert selectors.chain_verify().ok


def test_many_concurrent_writers_never_fork_the_chain(
    custodian: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> None:
    sessions = [make_session() for _ in range(6)]
    results = _race(
        6,
        lambda i: actions.do_withdraw_for_session(
            actor=custodian, session=sessions[i], lot=stocked, location=safe, quantity="4"
        ),
    )
    wins = [r for r in results if isinstance(r, LedgerEntry)]
    assert len(wins) == 5  # 20 mL / 4 mL
    assert all(isinstance(r, ValidationFailed) for r in results if not isinstance(r, LedgerEntry))
    seqs = sorted(LedgerEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, 7))
    assert selectors.chain_verify().ok
    assert selectors.location_balance(lot=stocked, location=safe) == Decimal(0)
