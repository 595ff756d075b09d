"""Balance projections per product/lot/location and per session; session and count reconciliation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.core.ledger.ledger_helpers import chain, entry

from ketaclinic.core.ledger import (
    EntryType,
    SessionKey,
    StockKey,
    negative_balances,
    product_balances,
    reconcile_count,
    reconcile_session,
    session_balances,
    stock_balances,
)

D = Decimal


def _ledger() -> list:
    return chain(
        entry(EntryType.RECEIPT, "50", location="safe"),
        entry(EntryType.RECEIPT, "20", location="safe", lot="L2"),
        entry(EntryType.TRANSFER, "10", location="safe", to_location="cart"),
        entry(EntryType.WITHDRAWAL, "5", location="cart", session="s1"),
        entry(EntryType.ADMINISTRATION, "3.5", location="cart", session="s1", patient="pt"),
        entry(EntryType.WASTE, "0.5", location="cart", session="s1", witnesses=("u2",)),
        entry(EntryType.RETURN_TO_STOCK, "1", location="cart", session="s1"),
        entry(EntryType.WASTE, "2", location="safe", witnesses=("u2",), reason="vial broken"),
        entry(EntryType.RETURN_TO_SUPPLIER, "4", location="safe", lot="L2"),
        entry(
            EntryType.DESTRUCTION, "6", location="safe", lot="L2", witnesses=("u2", "u3"), reason="expired"
        ),
        entry(EntryType.ADJUSTMENT, "-1", location="safe", reason="miscount"),
        entry(EntryType.ADJUSTMENT, "0.25", location="cart", reason="overfill"),
        entry(EntryType.THEFT_LOSS, "3", location="safe", reason="missing vial"),
        entry(EntryType.COUNT, "33", location="safe", expected_quantity=D("34")),
    )


def test_stock_balances_exact() -> None:
    assert stock_balances(_ledger()) == {
        StockKey("p1", "L1", "safe"): D("34"),  # 50 - 10 - 2 - 1 - 3
        StockKey("p1", "L1", "cart"): D("6.25"),  # 10 - 5 + 1 + 0.25
        StockKey("p1", "L2", "safe"): D("10"),  # 20 - 4 - 6
    }
    assert product_balances(_ledger()) == {"p1": D("50.25")}


def test_session_custody_and_reconciliation() -> None:
    entries = _ledger()
    assert session_balances(entries) == {SessionKey("s1", "p1", "L1"): D("0")}
    (rec,) = reconcile_session(entries, "s1")
    assert (rec.withdrawn, rec.administered, rec.wasted, rec.returned) == (D(5), D("3.5"), D("0.5"), D(1))
    assert rec.outstanding == 0 and rec.balanced


def test_unreconciled_session_shows_outstanding() -> None:
    entries = chain(
        entry(EntryType.RECEIPT, "10", location="safe"),
        entry(EntryType.WITHDRAWAL, "2", location="safe", session="s9"),
        entry(EntryType.ADMINISTRATION, "1.5", location="safe", session="s9", patient="pt"),
    )
    (rec,) = reconcile_session(entries, "s9")
    assert rec.outstanding == D("0.5")
    assert not rec.balanced
    assert reconcile_session(entries, "other") == []


def test_negative_balances_found() -> None:
    entries = chain(
        entry(EntryType.RECEIPT, "1", location="safe"),
        entry(EntryType.WITHDRAWAL, "2", location="safe", session="s1"),
        entry(EntryType.ADMINISTRATION, "3", location="safe", session="s1", patient="pt"),
    )
    assert negative_balances(entries) == [
        (2, "stock of lot L1 at safe is -1"),
        (3, "session s1 custody of lot L1 is -1"),
    ]
    assert negative_balances(_ledger()) == []


def test_scope_delta_nets_internal_moves() -> None:
    scope = frozenset({"safe", "cart"})
    deltas = [e.scope_delta(scope) for e in _ledger()]
    assert deltas == [
        D(50),
        D(20),
        D(0),
        D(0),
        D("-3.5"),
        D("-0.5"),
        D(0),
        D(-2),
        D(-4),
        D(-6),
        D(-1),
        D("0.25"),
        D(-3),
        D(0),
    ]
    assert sum(deltas) == D("50.25")
    assert [e.scope_delta(frozenset({"safe"})) for e in _ledger()][2] == D(-10)


def test_count_reconciliation() -> None:
    assert reconcile_count(expected=D(5), counted=D(5)) is None
    d = reconcile_count(expected=D(5), counted=D(3))
    assert d is not None and d.difference == D(-2) and d.missing
    over = reconcile_count(expected=D(5), counted=D(6))
    assert over is not None and not over.missing
    with pytest.raises(ValueError, match="negative"):
        reconcile_count(expected=D(1), counted=D(-1))
