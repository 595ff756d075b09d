"""Pure balance projections (per product, lot and location; per session) and reconciliation of sessions and counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ketaclinic.core.ledger.entries import EntryType, LedgerEntry

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, order=True)
class StockKey:
    """A balance bucket in storage: (product, lot, location)."""

    product: str
    lot: str
    location: str


@dataclass(frozen=True, slots=True, order=True)
class SessionKey:
    """A session's custody bucket: (session, product, lot)."""

    session: str
    product: str
    lot: str


def stock_balances(entries: Iterable[LedgerEntry]) -> dict[StockKey, Decimal]:
    """Book balance of every (product, lot, location) that any entry touched (zero balances included)."""
    out: dict[StockKey, Decimal] = {}
    for e in entries:
        for loc in {e.location, e.to_location} - {None}:
            assert loc is not None
            key = StockKey(e.product, e.lot, loc)
            out[key] = out.get(key, ZERO) + e.location_delta(loc)
    return out


def session_balances(entries: Iterable[LedgerEntry]) -> dict[SessionKey, Decimal]:
    """Quantity still in each session's custody (withdrawn minus administered, wasted and returned)."""
    out: dict[SessionKey, Decimal] = {}
    for e in entries:
        if e.session is None:
            continue
        key = SessionKey(e.session, e.product, e.lot)
        out[key] = out.get(key, ZERO) + e.session_delta()
    return out


def product_balances(entries: Iterable[LedgerEntry]) -> dict[str, Decimal]:
    """Book balance in storage per product, summed over lots and locations."""
    out: dict[str, Decimal] = {}
    for key, qty in stock_balances(entries).items():
        out[key.product] = out.get(key.product, ZERO) + qty
    return out


def negative_balances(entries: Iterable[LedgerEntry]) -> list[tuple[int, str]]:
    """Entries that took some balance below zero (or further below), as (seq, description); empty for a sound ledger."""
    stock: dict[StockKey, Decimal] = {}
    custody: dict[SessionKey, Decimal] = {}
    problems: list[tuple[int, str]] = []
    for e in entries:
        for loc in {e.location, e.to_location} - {None}:
            assert loc is not None
            key = StockKey(e.product, e.lot, loc)
            delta = e.location_delta(loc)
            stock[key] = stock.get(key, ZERO) + delta
            if delta and stock[key] < 0:
                problems.append((e.seq, f"stock of lot {e.lot} at {loc} is {stock[key]}"))
        if e.session is not None:
            skey = SessionKey(e.session, e.product, e.lot)
            sdelta = e.session_delta()
            custody[skey] = custody.get(skey, ZERO) + sdelta
            if sdelta and custody[skey] < 0:
                problems.append((e.seq, f"session {e.session} custody of lot {e.lot} is {custody[skey]}"))
    return problems


@dataclass(frozen=True, slots=True)
class SessionReconciliation:
    """Per session and (product, lot): administered + wasted + returned must equal withdrawn."""

    session: str
    product: str
    lot: str
    withdrawn: Decimal
    administered: Decimal
    wasted: Decimal
    returned: Decimal

    @property
    def outstanding(self) -> Decimal:
        """Withdrawn quantity not yet accounted for (positive) or over-accounted (negative)."""
        return self.withdrawn - self.administered - self.wasted - self.returned

    @property
    def balanced(self) -> bool:
        return self.outstanding == 0


def reconcile_session(entries: Iterable[LedgerEntry], session: str) -> list[SessionReconciliation]:
    """Reconcile one session, one row per (product, lot) it withdrew or used, sorted by product then lot."""
    sums: dict[tuple[str, str], dict[EntryType, Decimal]] = {}
    for e in entries:
        if e.session != session:
            continue
        bucket = sums.setdefault((e.product, e.lot), {})
        bucket[e.entry_type] = bucket.get(e.entry_type, ZERO) + e.quantity
    return [
        SessionReconciliation(
            session=session,
            product=product,
            lot=lot,
            withdrawn=b.get(EntryType.WITHDRAWAL, ZERO),
            administered=b.get(EntryType.ADMINISTRATION, ZERO),
            wasted=b.get(EntryType.WASTE, ZERO),
            returned=b.get(EntryType.RETURN_TO_STOCK, ZERO),
        )
        for (product, lot), b in sorted(sums.items())
    ]


@dataclass(frozen=True, slots=True)
class CountDiscrepancy:
    """A count whose counted quantity differs from the book balance."""

    expected: Decimal
    counted: Decimal

    @property
    def difference(self) -> Decimal:
        """counted - expected: negative means stock is missing."""
        return self.counted - self.expected

    @property
    def missing(self) -> bool:
        return self.difference < 0


def reconcile_count(*, expected: Decimal, counted: Decimal) -> CountDiscrepancy | None:
    """None when the count matches the book balance, else the discrepancy."""
    if counted < 0:
        raise ValueError("counted quantity cannot be negative")
    if counted == expected:
        return None
    return CountDiscrepancy(expected=expected, counted=counted)
