"""Hash chaining and verification: intact chains pass; altered, removed, reordered, duplicated entries are named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.ledger.ledger_helpers import T0, chain, entry

from ketaclinic.core.ledger import (
    GENESIS_HASH,
    ChainHead,
    EntryType,
    Problem,
    canonical_bytes,
    entry_hash,
    seal,
    verify,
)


def _five() -> list:
    return chain(
        entry(EntryType.RECEIPT, "100", location="safe"),
        entry(EntryType.WITHDRAWAL, "10", minutes=5, location="safe", session="s1"),
        entry(EntryType.ADMINISTRATION, "7", minutes=30, location="safe", session="s1", patient="pt1"),
        entry(EntryType.WASTE, "3", minutes=35, location="safe", session="s1", witnesses=("u2",)),
        entry(EntryType.COUNT, "90", minutes=60, location="safe", expected_quantity=Decimal("90")),
    )


def test_intact_chain_verifies_with_head() -> None:
    entries = _five()
    result = verify(entries, head=ChainHead(5, entries[-1].hash))
    assert result.ok
    assert result.checked == 5
    assert result.first_bad is None
    assert result.head == ChainHead(5, entries[-1].hash)
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]


def test_empty_chain_is_intact() -> None:
    assert verify([]).ok
    assert verify([]).as_dict() == {"ok": True, "entries": 0, "head": None, "first_bad": None}


def test_canonical_form_is_stable_and_exact() -> None:
    e = seal(
        entry(EntryType.RECEIPT, "10.500", location="safe", detail=(("invoice", "INV-1"),)), previous=None
    )
    assert canonical_bytes(e) == (
        b'{"actor":"u1","clinic":"c1","detail":{"invoice":"INV-1"},"expected_quantity":null,'
        b'"location":"safe","lot":"L1","occurred_at":"2026-03-02T09:00:00.000000Z","patient":null,'
        b'"prev_hash":"' + GENESIS_HASH.encode() + b'","product":"p1","quantity":"10.5",'
        b'"reason":"","recorded_at":"2026-03-02T09:00:00.000000Z","seq":1,"session":null,'
        b'"to_location":null,"type":1,"v":1,"witnesses":[]}'
    )
    # Same instant in another zone and the same quantity at another scale hash identically.
    other = replace(
        e,
        quantity=Decimal("10.5"),
        occurred_at=T0.astimezone(timezone(timedelta(hours=-5))),
    )
    assert entry_hash(other) == e.hash


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_hash(entry(EntryType.RECEIPT, "1", occurred_at=datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", Decimal("8")),
        ("patient", "pt2"),
        ("witnesses", ("u3",)),
        ("occurred_at", T0 + timedelta(minutes=31)),
        ("entry_type", EntryType.WASTE),
        ("detail", (("note", "x"),)),
    ],
)
def test_altered_field_names_the_entry(field: str, value: object) -> None:
    entries = _five()
    entries[2] = replace(entries[2], **{field: value})
    result = verify(entries)
    assert not result.ok
    assert result.first_bad is not None
    assert (result.first_bad.seq, result.first_bad.position, result.first_bad.problem) == (
        3,
        3,
        Problem.ALTERED,
    )
    assert result.first_bad.ref == "row3"
    assert result.first_bad.message == "entry 3 was altered: its content does not match its hash"
    assert result.checked == 2


def test_altered_and_rehashed_entry_breaks_the_next_link() -> None:
    entries = _five()
    forged = replace(entries[1], quantity=Decimal("1"), hash="")
    entries[1] = replace(forged, hash=entry_hash(forged))
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (2, 2, Problem.BROKEN_LINK)
    assert "entry 3 does not link to entry 2" in bad.message


def test_removed_entry_is_named() -> None:
    entries = _five()
    del entries[1]
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (2, 2, Problem.REMOVED)
    assert bad.message == "entry 2 was removed: the chain jumps from entry 1 to entry 3"


def test_removed_first_entry_is_named() -> None:
    entries = _five()[1:]
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.problem) == (1, Problem.REMOVED)
    assert bad.message == "entry 1 was removed: the chain jumps from the start to entry 2"


def test_removed_tail_is_named_with_head() -> None:
    entries = _five()
    head = ChainHead(5, entries[-1].hash)
    assert verify(entries[:-1]).ok  # without the head a truncated tail is invisible
    bad = verify(entries[:-2], head=head).first_bad
    assert bad is not None
    assert (bad.seq, bad.problem) == (4, Problem.REMOVED)


def test_entry_beyond_head_is_unrecorded() -> None:
    entries = _five()
    bad = verify(entries, head=ChainHead(4, entries[3].hash)).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (5, 5, Problem.UNRECORDED)


def test_head_hash_mismatch_is_altered() -> None:
    entries = _five()
    bad = verify(entries, head=ChainHead(5, "f" * 64)).first_bad
    assert bad is not None
    assert (bad.seq, bad.problem) == (5, Problem.ALTERED)


def test_swapped_entries_are_reordered() -> None:
    entries = _five()
    entries[2], entries[3] = entries[3], entries[2]
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (4, 3, Problem.REORDERED)
    assert bad.message == (
        "entry 4 is out of order: found at position 3, where entry 3 was expected (entry 3 is at position 4)"
    )


def test_moved_back_entry_is_reordered() -> None:
    entries = _five()
    moved = entries.pop(1)
    entries.append(moved)
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (3, 2, Problem.REORDERED)


def test_duplicated_entry_is_named() -> None:
    entries = _five()
    entries.insert(2, entries[1])
    bad = verify(entries).first_bad
    assert bad is not None
    assert (bad.seq, bad.position, bad.problem) == (2, 3, Problem.DUPLICATED)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=12),
    data=st.data(),
)
def test_any_single_tamper_is_detected_at_or_before_it(n: int, data: st.DataObject) -> None:
    entries = chain(*[entry(EntryType.RECEIPT, str(i + 1), minutes=i, location="safe") for i in range(n)])
    assert verify(entries).ok
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    kind = data.draw(st.sampled_from(["alter", "remove", "swap"]))
    tampered = list(entries)
    if kind == "alter":
        tampered[i] = replace(tampered[i], quantity=tampered[i].quantity + 1)
        expected = (i + 1, Problem.ALTERED)
    elif kind == "remove":
        del tampered[i]
        if i == n - 1:
            bad = verify(tampered, head=ChainHead(n, entries[-1].hash)).first_bad
            assert bad is not None and (bad.seq, bad.problem) == (n, Problem.REMOVED)
            return
        expected = (i + 1, Problem.REMOVED)
    else:
        j = i + 1 if i + 1 < n else i - 1
        lo, hi = min(i, j), max(i, j)
        tampered[lo], tampered[hi] = tampered[hi], tampered[lo]
        expected = (hi + 1, Problem.REORDERED)
    bad = verify(tampered, head=ChainHead(n, entries[-1].hash)).first_bad
    assert bad is not None
    assert (bad.seq, bad.problem) == expected


def test_sealing_uses_utc_and_links() -> None:
    a = seal(entry(EntryType.RECEIPT, "1", location="safe"), previous=None)
    b = seal(entry(EntryType.RECEIPT, "2", location="safe"), previous=a)
    assert (a.seq, b.seq, b.prev_hash) == (1, 2, a.hash)
    assert a.occurred_at.tzinfo is UTC
