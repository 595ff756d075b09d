"""Helpers for ledger core tests: build sealed chains from compact specs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ketaclinic.core.ledger import EntryType, LedgerEntry, seal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def entry(entry_type: EntryType, quantity: str, *, minutes: int = 0, **kw: object) -> LedgerEntry:
    base = LedgerEntry(
        seq=0,
        entry_type=entry_type,
        occurred_at=T0 + timedelta(minutes=minutes),
        recorded_at=T0 + timedelta(minutes=minutes),
        clinic="c1",
        product="p1",
        lot="L1",
        quantity=Decimal(quantity),
        actor="u1",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def chain(*entries: LedgerEntry) -> list[LedgerEntry]:
    out: list[LedgerEntry] = []
    for e in entries:
        out.append(replace(seal(e, previous=out[-1] if out else None), ref=f"row{len(out) + 1}"))
    return out
