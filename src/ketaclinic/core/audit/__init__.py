"""Tamper evidence for the audit trail: canonical event hashing and the hash chain over sealed events."""

from ketaclinic.core.audit.chain import (
    GENESIS_HASH,
    AuditFinding,
    AuditProblem,
    AuditVerification,
    SealedLink,
    event_hash,
    link_hash,
    verify_links,
)

__all__ = [
    "GENESIS_HASH",
    "AuditFinding",
    "AuditProblem",
    "AuditVerification",
    "SealedLink",
    "event_hash",
    "link_hash",
    "verify_links",
]
