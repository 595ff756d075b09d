"""The database refuses UPDATE/DELETE on ledger entries; tampering done directly in SQL (with the trigger
dropped) is found by `ketaclinic ledger verify`, which names the first bad entry (docs/cli.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.core.ledger import Problem
from ketaclinic.web.accounts.models import User
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import LedgerEntry, Lot, StorageLocation

TABLE = "ledger_ledgerentry"


@pytest.fixture
def five(
    custodian: User, witness: User, safe: StorageLocation, stocked: Lot, make_session: Any
) -> list[LedgerEntry]:
    s = make_session()
    actions.do_withdraw_for_session(actor=custodian, session=s, lot=stocked, location=safe, quantity="10")
    actions.do_record_administration(actor=custodian, session=s, lot=stocked, quantity="7")
    actions.do_record_waste(
        actor=custodian,
        session=s,
        lot=stocked,
        quantity="3",
        witness=witness,
        witness_password="correct-horse-battery-9",
    )
    actions.do_record_count(actor=custodian, lot=stocked, location=safe, counted="10")
    return list(LedgerEntry.objects.order_by("id"))


def _drop_triggers() -> None:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(f"DROP TRIGGER {TABLE}_no_update")
            cur.execute(f"DROP TRIGGER {TABLE}_no_delete")
        else:
            cur.execute(f"DROP TRIGGER {TABLE}_no_update_delete ON {TABLE}")


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["ledger", "verify", *args])


def test_update_and_delete_are_refused_by_the_database(five: list[LedgerEntry]) -> None:
    target = five[2]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=target.pk).update(quantity=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=target.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["x", target.pk])
    target.refresh_from_db()
    assert target.quantity == 7 and LedgerEntry.objects.count() == 5


def test_intact_ledger_exit_0(five: list[LedgerEntry]) -> None:
    res = _cli()
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"ledger intact: 5 entries, head #5 {five[-1].hash}")
    res = _cli("--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {
        "ok": True,
        "entries": 5,
        "head": {"seq": 5, "hash": five[-1].hash},
        "first_bad": None,
    }


def test_altered_quantity_is_named(five: list[LedgerEntry]) -> None:
    _drop_triggers()
    _sql(f"UPDATE {TABLE} SET quantity = %s WHERE id = %s", ["6.000", five[2].pk])
    res = _cli("--json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False
    assert out["first_bad"] == {
        "seq": 3,
        "position": 3,
        "problem": "altered",
        "message": "entry 3 was altered: its content does not match its hash",
        "ref": str(five[2].pk),
    }
    text = _cli()
    assert text.exit_code == 1
    assert "entry 3 (altered)" in text.output


@pytest.mark.parametrize(
    ("column", "value"),
    [("patient_id", None), ("witness_1_id", None), ("occurred_at", "2020-01-01 00:00:00"), ("entry_type", 5)],
)
def test_any_altered_column_is_named(five: list[LedgerEntry], column: str, value: Any) -> None:
    _drop_triggers()
    target = five[2] if column != "witness_1_id" else five[3]
    _sql(f"UPDATE {TABLE} SET {column} = %s WHERE id = %s", [value, target.pk])
    bad = selectors.chain_verify().first_bad
    assert bad is not None and (bad.seq, bad.problem) == (target.seq, Problem.ALTERED)


def test_removed_entry_is_named(five: list[LedgerEntry]) -> None:
    _drop_triggers()
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [five[1].pk])
    res = _cli("--json")
    assert res.exit_code == 1
    bad = json.loads(res.stdout)["first_bad"]
    assert (bad["seq"], bad["problem"]) == (2, "removed")
    assert bad["message"] == "entry 2 was removed: the chain jumps from entry 1 to entry 3"


def test_removed_last_entry_is_named_through_the_head(five: list[LedgerEntry]) -> None:
    _drop_triggers()
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [five[4].pk])
    bad = selectors.chain_verify().first_bad
    assert bad is not None and (bad.seq, bad.problem) == (5, Problem.REMOVED)


def test_reordered_entries_are_named(five: list[LedgerEntry]) -> None:
    """Swap the full contents of rows 3 and 4 (every column but the id), as a reordering would."""
    _drop_triggers()
    a, b = five[2], five[3]
    cols = [f.column for f in LedgerEntry._meta.concrete_fields if f.column != "id"]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(cols)} FROM {TABLE} WHERE id = %s", [a.pk])
        row_a = cur.fetchone()
        cur.execute(f"SELECT {', '.join(cols)} FROM {TABLE} WHERE id = %s", [b.pk])
        row_b = cur.fetchone()
        # Unique seq/hash/prev_hash: park row a first.
        cur.execute(f"DELETE FROM {TABLE} WHERE id IN (%s, %s)", [a.pk, b.pk])
        placeholders = ", ".join(["%s"] * (len(cols) + 1))
        cur.execute(f"INSERT INTO {TABLE} (id, {', '.join(cols)}) VALUES ({placeholders})", [a.pk, *row_b])
        cur.execute(f"INSERT INTO {TABLE} (id, {', '.join(cols)}) VALUES ({placeholders})", [b.pk, *row_a])
    res = _cli("--json")
    assert res.exit_code == 1
    bad = json.loads(res.stdout)["first_bad"]
    assert (bad["seq"], bad["position"], bad["problem"]) == (4, 3, "reordered")


def test_rehashed_forgery_breaks_the_link(five: list[LedgerEntry]) -> None:
    """Someone who alters an entry and recomputes its hash still breaks the next entry's link."""
    from ketaclinic.core.ledger import entry_hash

    _drop_triggers()
    target = five[1]
    _sql(f"UPDATE {TABLE} SET quantity = %s WHERE id = %s", ["1.000", target.pk])
    forged = selectors.core_entry(LedgerEntry.objects.get(pk=target.pk))
    _sql(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", [entry_hash(forged), target.pk])
    bad = selectors.chain_verify().first_bad
    assert bad is not None and (bad.seq, bad.problem) == (2, Problem.BROKEN_LINK)


def test_empty_ledger_is_intact(db: Any) -> None:
    res = _cli("--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"ok": True, "entries": 0, "head": None, "first_bad": None}
