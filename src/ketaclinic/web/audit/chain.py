"""Sealing and verifying the audit trail's hash chain (the pure hashing is ketaclinic.core.audit).

Audit rows are written by every request, so they are not chained inline (that would serialise every
transaction in the clinic behind one lock). Instead `seal_pending` appends a link for each committed, unsealed
event, in one short transaction holding the chain head's lock. It runs after every commit that wrote an audit
row (skipping when another process is sealing: that process, or the next commit, picks the rows up) and before
every verification. Sealed history cannot then be altered or deleted without breaking the chain.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, connection, transaction

from ketaclinic.core.audit import (
    GENESIS_HASH,
    AuditFinding,
    AuditProblem,
    AuditVerification,
    SealedLink,
    event_hash,
    link_hash,
    verify_links,
)
from ketaclinic.web.audit.models import AuditChainHead, AuditEvent, AuditLink

BATCH = 2000
# After a commit only events above (highest sealed id - WINDOW) are looked for, so sealing stays cheap on a
# large table; a transaction that committed later than that is sealed by the full scan `audit verify` runs.
WINDOW = 10_000
_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "clinic_id",
    "patient_id",
    "ip_address",
    "user_agent",
    "request_path",
    "detail",
)


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["at"] = row["at"].isoformat()
    return out


def _lock_head(*, wait: bool) -> AuditChainHead | None:
    qs = AuditChainHead.objects.select_for_update(skip_locked=not wait)
    head = qs.filter(pk=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(pk=1)
        head = qs.filter(pk=1).first()
    return head


def seal_pending(*, wait: bool = True, limit: int | None = None, full: bool = True) -> int:
    """Append links for committed events not yet sealed (oldest first); returns how many were sealed.

    `full=False` looks only at recent events (above the highest sealed id minus WINDOW)."""
    sealed = 0
    while limit is None or sealed < limit:
        with transaction.atomic():
            head = _lock_head(wait=wait)
            if head is None:
                return sealed  # another process holds the head and is sealing
            pending = AuditEvent.objects.filter(chain_link__isnull=True)
            if not full:
                pending = pending.filter(pk__gt=head.max_event_id - WINDOW)
            rows = list(pending.order_by("pk").values(*_FIELDS)[:BATCH])
            if not rows:
                return sealed
            seq, prev = head.seq, head.hash
            links = []
            for row in rows:
                seq += 1
                ev = event_hash(_payload(row))
                h = link_hash(seq, prev, row["id"], ev)
                links.append(AuditLink(seq=seq, event_id=row["id"], event_hash=ev, prev_hash=prev, hash=h))
                prev = h
            AuditLink.objects.bulk_create(links)
            top = max(head.max_event_id, max(r["id"] for r in rows))
            AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev, max_event_id=top)
            sealed += len(links)
    return sealed


def seal_after_commit() -> None:
    """on_commit hook of record_audit: seal without waiting; a failure never affects the request."""
    # On failure the rows are sealed by the next commit or by `ketaclinic audit verify`.
    with contextlib.suppress(DatabaseError):
        seal_pending(wait=False, limit=BATCH, full=False)


def _links() -> Iterator[SealedLink]:
    last = 0
    while True:
        chunk = list(AuditLink.objects.filter(seq__gt=last).order_by("seq")[:BATCH])
        if not chunk:
            return
        events = {
            row["id"]: event_hash(_payload(row))
            for row in AuditEvent.objects.filter(pk__in=[c.event_id for c in chunk]).values(*_FIELDS)
        }
        for c in chunk:
            yield SealedLink(c.seq, c.event_id, c.event_hash, c.prev_hash, c.hash, events.get(c.event_id))
        last = chunk[-1].seq


def triggers_present() -> bool:
    """Whether the append-only triggers still guard the audit tables."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name IN ('audit_auditevent', 'audit_auditlink')"
            )
            names = {r[0] for r in cur.fetchall()}
            wanted = {
                f"{t}_no_{op}" for t in ("audit_auditevent", "audit_auditlink") for op in ("update", "delete")
            }
            return wanted <= names
        cur.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
            "AND tgrelid IN ('audit_auditevent'::regclass, 'audit_auditlink'::regclass)"
        )
        names = {r[0] for r in cur.fetchall()}
        return {"audit_auditevent_no_update_delete", "audit_auditlink_no_update_delete"} <= names


def audit_verify(*, seal: bool = True) -> AuditVerification:
    """Seal what is pending, then check the triggers and recompute the whole chain."""
    if seal:
        seal_pending(wait=True)
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    result = verify_links(_links(), head_seq=head_seq, head_hash=head_hash)
    unsealed = AuditEvent.objects.filter(chain_link__isnull=True).count()
    if result.ok and not triggers_present():
        result = AuditVerification(
            False,
            result.checked,
            head_seq,
            head_hash,
            AuditFinding(
                0, 0, AuditProblem.TRIGGER_MISSING, "the audit tables' append-only triggers are missing"
            ),
        )
    return AuditVerification(
        result.ok, result.checked, result.head_seq, result.head_hash, result.first_bad, unsealed
    )
