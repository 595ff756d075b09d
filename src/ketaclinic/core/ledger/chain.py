"""Canonical serialisation, SHA-256 hash chaining and verification of the controlled-substance ledger.

Each entry's hash is SHA-256 over the canonical JSON of every field except `hash` and `ref`, including
`seq` and `prev_hash`, so an altered field, a missing entry or a changed order all break the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ketaclinic.core.ledger.entries import GENESIS_HASH, LedgerEntry

CANONICAL_VERSION = 1
"""Version of the canonical form; part of every hashed payload so a future change cannot collide."""


def canonical_decimal(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 1.500 -> "1.5", 10 -> "10", -0 -> "0"."""
    if not value.is_finite():
        raise ValueError(f"quantity must be finite, got {value}")
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def canonical_datetime(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and a Z; naive datetimes are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("ledger datetimes must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_payload(entry: LedgerEntry) -> dict[str, Any]:
    """The dict that is hashed: every field but `hash` and `ref`, in plain JSON types."""
    return {
        "v": CANONICAL_VERSION,
        "seq": entry.seq,
        "type": int(entry.entry_type),
        "occurred_at": canonical_datetime(entry.occurred_at),
        "recorded_at": canonical_datetime(entry.recorded_at),
        "clinic": entry.clinic,
        "product": entry.product,
        "lot": entry.lot,
        "quantity": canonical_decimal(entry.quantity),
        "actor": entry.actor,
        "location": entry.location,
        "to_location": entry.to_location,
        "session": entry.session,
        "patient": entry.patient,
        "witnesses": list(entry.witnesses),
        "reason": entry.reason,
        "expected_quantity": (
            None if entry.expected_quantity is None else canonical_decimal(entry.expected_quantity)
        ),
        "detail": dict(sorted(entry.detail)),
        "prev_hash": entry.prev_hash,
    }


def canonical_bytes(entry: LedgerEntry) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        canonical_payload(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def entry_hash(entry: LedgerEntry) -> str:
    """Hex SHA-256 of the entry's canonical bytes."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def seal(entry: LedgerEntry, *, previous: LedgerEntry | None) -> LedgerEntry:
    """Return `entry` placed after `previous` (None: first entry): seq, prev_hash and hash filled in."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    linked = replace(entry, seq=seq, prev_hash=prev_hash, hash="")
    return replace(linked, hash=entry_hash(linked))


class Problem(StrEnum):
    """What verification found wrong with the first bad entry."""

    ALTERED = "altered"
    """The entry's content no longer matches its own hash."""
    BROKEN_LINK = "broken_link"
    """The entry's prev_hash does not match the entry before it (one of the two was altered and re-hashed)."""
    REMOVED = "removed"
    """An entry is missing from the chain."""
    REORDERED = "reordered"
    """Entries are stored out of order."""
    DUPLICATED = "duplicated"
    """The same sequence number appears twice."""
    UNRECORDED = "unrecorded"
    """The entry is beyond the separately kept chain head: it was inserted outside the ledger."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last sequence number and hash, kept apart from the entries so a truncated tail is noticed."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Finding:
    """The first bad entry: its sequence number, where it was found (1-based position) and why."""

    seq: int
    position: int
    problem: Problem
    message: str
    ref: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "position": self.position,
            "problem": self.problem.value,
            "message": self.message,
            "ref": self.ref,
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of `verify`: `ok`, how many entries were checked, and the first bad entry if any."""

    ok: bool
    checked: int
    head: ChainHead | None
    first_bad: Finding | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.checked,
            "head": None if self.head is None else {"seq": self.head.seq, "hash": self.head.hash},
            "first_bad": None if self.first_bad is None else self.first_bad.as_dict(),
        }


def verify(entries: Iterable[LedgerEntry], *, head: ChainHead | None = None) -> Verification:
    """Recompute the chain over `entries` in stored order and name the first altered, removed or reordered entry.

    Entries must start at seq 1 with prev_hash GENESIS_HASH and each must carry the previous one's hash.
    `head`, when given, is the separately kept last (seq, hash): entries missing from the end are reported
    as removed.
    """
    items: Sequence[LedgerEntry] = list(entries)
    positions: dict[int, int] = {}
    for pos, item in enumerate(items, start=1):
        positions.setdefault(item.seq, pos)
    previous: LedgerEntry | None = None
    for pos, item in enumerate(items, start=1):
        expected_seq = 1 if previous is None else previous.seq + 1
        expected_prev = GENESIS_HASH if previous is None else previous.hash
        if entry_hash(item) != item.hash:
            return _bad(
                pos,
                item.seq,
                Problem.ALTERED,
                f"entry {item.seq} was altered: its content does not match its hash",
                item,
            )
        if item.seq != expected_seq:
            if previous is not None and item.seq <= previous.seq:
                if (
                    item.seq in positions
                    and positions[item.seq] < pos
                    and items[positions[item.seq] - 1].hash == item.hash
                ):
                    return _bad(pos, item.seq, Problem.DUPLICATED, f"entry {item.seq} appears twice", item)
                return _bad(
                    pos,
                    item.seq,
                    Problem.REORDERED,
                    f"entry {item.seq} is out of order: found after entry {previous.seq}",
                    item,
                )
            later = positions.get(expected_seq)
            if later is not None and later > pos:
                return _bad(
                    pos,
                    item.seq,
                    Problem.REORDERED,
                    f"entry {item.seq} is out of order: found at position {pos}, where entry "
                    f"{expected_seq} was expected (entry {expected_seq} is at position {later})",
                    item,
                )
            return _bad(
                pos,
                expected_seq,
                Problem.REMOVED,
                f"entry {expected_seq} was removed: the chain jumps from "
                f"{'the start' if previous is None else f'entry {previous.seq}'} to entry {item.seq}",
                item,
            )
        if item.prev_hash != expected_prev:
            before = "the chain's start" if previous is None else f"entry {previous.seq}"
            bad_seq = item.seq if previous is None else previous.seq
            return _bad(
                pos if previous is None else pos - 1,
                bad_seq,
                Problem.BROKEN_LINK,
                f"entry {item.seq} does not link to {before}: "
                + (
                    f"entry {item.seq} was altered and re-hashed"
                    if previous is None
                    else f"entry {previous.seq} was altered and re-hashed, or entry {item.seq}'s link was"
                ),
                item if previous is None else previous,
            )
        previous = item
    last = None if previous is None else ChainHead(previous.seq, previous.hash)
    if head is not None and head.seq > 0:
        last_seq = 0 if last is None else last.seq
        if head.seq > last_seq:
            return Verification(
                False,
                len(items),
                last,
                Finding(
                    last_seq + 1,
                    len(items) + 1,
                    Problem.REMOVED,
                    f"entry {last_seq + 1} was removed: the chain head records {head.seq} entries "
                    f"but only {last_seq} are stored",
                ),
            )
        if last is not None and head.seq < last.seq:
            pos = positions[head.seq + 1]
            return Verification(
                False,
                pos - 1,
                last,
                Finding(
                    head.seq + 1,
                    pos,
                    Problem.UNRECORDED,
                    f"entry {head.seq + 1} was inserted outside the ledger: the chain head records "
                    f"only {head.seq} entries",
                    items[pos - 1].ref,
                ),
            )
        if last is not None and head.seq == last.seq and head.hash != last.hash:
            return Verification(
                False,
                len(items),
                last,
                Finding(
                    last.seq,
                    len(items),
                    Problem.ALTERED,
                    f"entry {last.seq} was altered: its hash differs from the recorded chain head",
                    previous.ref if previous is not None else "",
                ),
            )
    return Verification(True, len(items), last, None)


def _bad(position: int, seq: int, problem: Problem, message: str, item: LedgerEntry) -> Verification:
    return Verification(False, position - 1, None, Finding(seq, position, problem, message, item.ref))
