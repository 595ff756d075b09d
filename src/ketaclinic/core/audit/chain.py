"""Hash chain over the audit trail.

Each audit event has an event hash: SHA-256 over the canonical JSON (sorted keys, no whitespace, UTF-8) of every
stored field. Sealing appends a link per event, in sealing order: link n has
    hash_n = SHA-256("v1|" + n + "|" + prev_hash + "|" + event_id + "|" + event_hash_n),
with prev_hash of link 1 the genesis hash (64 zeros). The last link's seq and hash are also kept apart (the
head), so a truncated tail is noticed. Verification recomputes every event hash from the stored event and every
link hash from its predecessor: an altered event, a removed event, an altered or removed link all break it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64
VERSION = "v1"


def event_hash(payload: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of an event's stored fields (plain JSON types only)."""
    data = json.dumps(dict(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def link_hash(seq: int, prev_hash: str, event_id: int, ev_hash: str) -> str:
    """Hex SHA-256 chaining link `seq` (sealing event `event_id` with hash `ev_hash`) to its predecessor."""
    text = f"{VERSION}|{seq}|{prev_hash}|{event_id}|{ev_hash}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class AuditProblem(StrEnum):
    ALTERED = "altered"
    """The event's stored fields no longer match the hash sealed for it."""
    REMOVED = "removed"
    """A sealed event is missing from the audit table."""
    BROKEN_LINK = "broken_link"
    """A link does not follow from the one before it (a link was altered, removed or inserted)."""
    TRUNCATED = "truncated"
    """The chain ends before the separately kept head."""
    TRIGGER_MISSING = "trigger_missing"
    """The database no longer refuses UPDATE or DELETE on the audit tables."""


@dataclass(frozen=True, slots=True)
class SealedLink:
    """One link as stored, with the current hash of its event (None when the event row is gone)."""

    seq: int
    event_id: int
    event_hash: str
    prev_hash: str
    hash: str
    current_event_hash: str | None


@dataclass(frozen=True, slots=True)
class AuditFinding:
    seq: int
    event_id: int
    problem: AuditProblem
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "problem": self.problem.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad: AuditFinding | None
    unsealed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.checked,
            "head": {"seq": self.head_seq, "hash": self.head_hash} if self.head_seq else None,
            "unsealed": self.unsealed,
            "first_bad": None if self.first_bad is None else self.first_bad.as_dict(),
        }


def verify_links(links: Iterable[SealedLink], *, head_seq: int, head_hash: str) -> AuditVerification:
    """Walk the links in seq order; the first problem found is reported."""
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0

    def bad(seq: int, event_id: int, problem: AuditProblem, message: str) -> AuditVerification:
        return AuditVerification(
            False, checked, head_seq, head_hash, AuditFinding(seq, event_id, problem, message)
        )

    for link in links:
        if link.seq != expected_seq or link.prev_hash != prev:
            return bad(
                link.seq,
                link.event_id,
                AuditProblem.BROKEN_LINK,
                f"link {link.seq} does not follow link {expected_seq - 1}",
            )
        if link.hash != link_hash(link.seq, link.prev_hash, link.event_id, link.event_hash):
            return bad(link.seq, link.event_id, AuditProblem.BROKEN_LINK, f"link {link.seq} was altered")
        if link.current_event_hash is None:
            return bad(
                link.seq, link.event_id, AuditProblem.REMOVED, f"audit event {link.event_id} was deleted"
            )
        if link.current_event_hash != link.event_hash:
            return bad(
                link.seq, link.event_id, AuditProblem.ALTERED, f"audit event {link.event_id} was altered"
            )
        prev = link.hash
        expected_seq += 1
        checked += 1
    if checked != head_seq or (head_seq and prev != head_hash):
        return bad(
            checked + 1,
            0,
            AuditProblem.TRUNCATED,
            f"the chain ends at link {checked}; the head says {head_seq}",
        )
    return AuditVerification(True, checked, head_seq, head_hash, None)
