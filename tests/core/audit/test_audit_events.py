"""The audit event vocabulary: one member per stored action string, one block of 100 codes per domain."""

from __future__ import annotations

from ketaclinic.core.audit.events import AuditAction, AuditDomain


def test_codes_are_unique_and_inside_their_domain_block() -> None:
    codes = [a.code for a in AuditAction]
    assert len(codes) == len(set(codes)) == len(AuditAction) == 201
    for a in AuditAction:
        assert a.domain <= a.code < a.domain + 100
        assert a.code != a.domain  # the block's first code names the domain, not an event


def test_each_domain_keeps_its_action_prefixes() -> None:
    prefixes: dict[str, set[AuditDomain]] = {}
    for a in AuditAction:
        prefixes.setdefault(a.value.split(".")[0], set()).add(a.domain)
    assert all(len(domains) == 1 for domains in prefixes.values())
    assert AuditAction.COURSE_START.domain is AuditDomain.TREATMENT
    assert AuditAction.LEDGER_RECEIPT.domain is AuditDomain.LEDGER
    assert AuditAction.ACCESS_DENIED.domain is AuditDomain.ACCESS


def test_members_are_the_stored_strings() -> None:
    assert AuditAction.COURSE_START == "course.start"
    assert str(AuditAction.COURSE_START) == "course.start"
    assert (AuditAction.COURSE_START.code, AuditAction.PATIENT_VIEW.code) == (703, 406)
    assert AuditAction.from_stored("course.start") is AuditAction.COURSE_START
    assert AuditAction.from_stored("ledger.receipt") is AuditAction.LEDGER_RECEIPT
    assert AuditAction.from_stored("no.such_action") is None
    assert all(AuditAction.from_stored(a.value) is a for a in AuditAction)
