"""Jurisdiction registers: one per drug, form and strength, with running balance, as rows and CSV text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from ketaclinic.core.ledger.chain import canonical_decimal
from ketaclinic.core.ledger.entries import EntryType, LedgerEntry
from ketaclinic.core.ledger.rules import Jurisdiction


@dataclass(frozen=True, slots=True)
class RegisterLine:
    """A ledger entry with the names a register prints (resolved by the caller from its records)."""

    entry: LedgerEntry
    lot_label: str = ""
    patient_name: str = ""
    patient_address: str = ""
    counterparty: str = ""
    authority: str = ""
    person: str = ""
    witness: str = ""


@dataclass(frozen=True, slots=True)
class RegisterRow:
    seq: int
    occurred_at: datetime
    entry_type: EntryType
    quantity_in: Decimal
    quantity_out: Decimal
    balance: Decimal
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Register:
    """A register page set for one product heading, between two instants, in one jurisdiction's format."""

    jurisdiction: str
    title: str
    heading: str
    unit: str
    start: datetime
    end: datetime
    headers: tuple[str, ...]
    opening_balance: Decimal
    closing_balance: Decimal
    rows: tuple[RegisterRow, ...]


def _fmt(q: Decimal, unit: str) -> str:
    return f"{canonical_decimal(q)} {unit}".strip()


def build_register(
    lines: Iterable[RegisterLine],
    *,
    rules: Jurisdiction,
    heading: str,
    unit: str,
    scope: frozenset[str],
    start: datetime,
    end: datetime,
    tz: tzinfo,
    include_internal: bool = False,
) -> Register:
    """Build the register for the stock held within `scope` (a site's storage locations) from all `lines`
    of one drug/form/strength, listed chronologically (by when it happened, then chain order). Entries before `start` make the opening balance; entries in
    [start, end) are listed with the balance held after each. Internal movements (withdrawal, return to
    stock, transfer within the scope) are listed only with `include_internal`. Counts are always listed.
    """
    ordered: Sequence[RegisterLine] = sorted(lines, key=lambda ln: (ln.entry.occurred_at, ln.entry.seq))
    balance = Decimal(0)
    opening = Decimal(0)
    rows: list[RegisterRow] = []
    codes = [c.code for c in rules.register_columns]
    for ln in ordered:
        e = ln.entry
        if e.location not in scope and e.to_location not in scope:
            continue
        delta = e.scope_delta(scope)
        balance += delta
        if e.occurred_at < start:
            opening = balance
            continue
        if e.occurred_at >= end:
            break
        internal = delta == 0 and e.entry_type is not EntryType.COUNT
        if internal and not include_internal:
            continue
        q_in = delta if delta > 0 else Decimal(0)
        q_out = -delta if delta < 0 else Decimal(0)
        local = e.occurred_at.astimezone(tz)
        entry_label = e.entry_type.label
        if e.entry_type is EntryType.COUNT and e.expected_quantity is not None:
            entry_label += f" (expected {_fmt(e.expected_quantity, unit)}, counted {_fmt(e.quantity, unit)})"
        elif e.reason:
            entry_label += f": {e.reason}"
        values = {
            "date": local.strftime("%Y-%m-%d"),
            "time": local.strftime("%H:%M"),
            "entry": entry_label,
            "lot": ln.lot_label,
            "patient_name": ln.patient_name,
            "patient_address": ln.patient_address,
            "counterparty": ln.counterparty,
            "authority": ln.authority,
            "quantity_in": _fmt(q_in, unit) if q_in else "",
            "quantity_out": _fmt(q_out, unit) if q_out else "",
            "person": ln.person,
            "witness": ln.witness,
            "balance": _fmt(balance, unit),
        }
        rows.append(
            RegisterRow(
                seq=e.seq,
                occurred_at=e.occurred_at,
                entry_type=e.entry_type,
                quantity_in=q_in,
                quantity_out=q_out,
                balance=balance,
                cells=tuple(values[c] for c in codes),
            )
        )
    closing = rows[-1].balance if rows else opening
    return Register(
        jurisdiction=rules.code,
        title=rules.register_title,
        heading=heading,
        unit=unit,
        start=start,
        end=end,
        headers=tuple(c.header for c in rules.register_columns),
        opening_balance=opening,
        closing_balance=closing,
        rows=tuple(rows),
    )


def register_csv(register: Register) -> str:
    """CSV text: a title block (register, heading, period, opening balance), the header row, then the rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([register.title])
    w.writerow(["Drug, form and strength", register.heading])
    w.writerow(["Period", register.start.isoformat(), register.end.isoformat()])
    w.writerow(["Opening balance", _fmt(register.opening_balance, register.unit)])
    w.writerow(register.headers)
    for row in register.rows:
        w.writerow(row.cells)
    w.writerow(["Closing balance", _fmt(register.closing_balance, register.unit)])
    return buf.getvalue()
