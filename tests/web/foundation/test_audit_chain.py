"""The audit trail is hash-chained: `ketaclinic audit verify` finds an altered, deleted or forged row and a dropped
trigger, with the exit codes of `ledger verify` (0 intact, 1 tampered)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.core.audit import AuditProblem
from ketaclinic.web.audit.chain import audit_verify, seal_pending
from ketaclinic.web.audit.models import AuditChainHead, AuditEvent, AuditLink
from ketaclinic.web.lib.audit import record_audit

EVENTS = "audit_auditevent"
LINKS = "audit_auditlink"


@pytest.fixture
def five(nurse: Any, clinic: Any) -> list[AuditEvent]:
    for i in range(5):
        record_audit(actor=nurse, action="patient.view", clinic=clinic, detail={"i": i, "note": "ü"})
    return list(AuditEvent.objects.order_by("pk"))


def _drop_triggers(table: str) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(f"DROP TRIGGER {table}_no_update")
            cur.execute(f"DROP TRIGGER {table}_no_delete")
        else:
            cur.execute(f"DROP TRIGGER {table}_no_update_delete ON {table}")


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["audit", "verify", *args])


def test_intact_trail_exit_0_and_seals_pending(five: list[AuditEvent]) -> None:
    assert AuditLink.objects.count() == 0  # tests run inside a transaction: nothing sealed after commit yet
    res = _cli("--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["ok"], out["entries"], out["unsealed"], out["first_bad"]) == (True, 5, 0, None)
    assert out["head"]["seq"] == 5 and len(out["head"]["hash"]) == 64
    assert list(AuditLink.objects.values_list("event_id", flat=True)) == [e.pk for e in five]
    text = _cli()
    assert text.exit_code == 0 and text.stdout.startswith("audit trail intact: 5 events, head #5 ")


def test_links_refuse_update_and_delete(five: list[AuditEvent]) -> None:
    seal_pending()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLink.objects.filter(seq=2).update(hash="0" * 64)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLink.objects.filter(seq=2).delete()


def test_altered_event_is_named(five: list[AuditEvent]) -> None:
    seal_pending()
    _drop_triggers(EVENTS)
    _sql(f"UPDATE {EVENTS} SET actor_label = %s WHERE id = %s", ["someone-else", five[2].pk])
    res = _cli("--json")
    assert res.exit_code == 1
    bad = json.loads(res.stdout)["first_bad"]
    assert (bad["seq"], bad["event_id"], bad["problem"]) == (3, five[2].pk, "altered")


def test_deleted_event_is_named(five: list[AuditEvent]) -> None:
    seal_pending()
    _drop_triggers(EVENTS)
    _sql(f"DELETE FROM {EVENTS} WHERE id = %s", [five[1].pk])
    result = audit_verify()
    assert result.first_bad is not None
    assert (result.first_bad.seq, result.first_bad.problem) == (2, AuditProblem.REMOVED)
    text = _cli()
    assert text.exit_code == 1 and f"audit event {five[1].pk} was deleted" in text.stderr


def test_forged_link_and_truncated_chain_are_found(five: list[AuditEvent]) -> None:
    seal_pending()
    _drop_triggers(LINKS)
    _sql(f"UPDATE {LINKS} SET event_hash = %s WHERE seq = %s", ["f" * 64, 4])
    bad = audit_verify().first_bad
    assert bad is not None and (bad.seq, bad.problem) == (4, AuditProblem.BROKEN_LINK)


def test_removed_tail_is_found_through_the_head(five: list[AuditEvent]) -> None:
    seal_pending()
    _drop_triggers(LINKS)
    _sql(f"DELETE FROM {LINKS} WHERE seq = %s", [5])
    _drop_triggers(EVENTS)
    _sql(f"DELETE FROM {EVENTS} WHERE id = %s", [five[4].pk])
    bad = audit_verify().first_bad
    assert bad is not None and bad.problem is AuditProblem.TRUNCATED
    assert AuditChainHead.objects.get().seq == 5


def test_dropped_trigger_alone_is_reported(five: list[AuditEvent]) -> None:
    _drop_triggers(EVENTS)
    res = _cli("--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["first_bad"]["problem"] == "trigger_missing"
