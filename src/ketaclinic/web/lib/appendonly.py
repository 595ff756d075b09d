"""Database triggers that make a table append-only (UPDATE and DELETE raise) on SQLite and PostgreSQL.

TRUNCATE is a table-owner operation, not a row edit: production deployments run the application as a role
without TRUNCATE privilege (see docs/operations.md), and the test runner needs it to reset databases.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _sql(vendor: str, table: str) -> tuple[list[str], list[str]]:
    if vendor == "sqlite":
        forward = [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE is not allowed'); END;",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE is not allowed'); END;",
        ]
        backward = [
            f"DROP TRIGGER IF EXISTS {table}_no_update;",
            f"DROP TRIGGER IF EXISTS {table}_no_delete;",
        ]
        return forward, backward
    if vendor == "postgresql":
        fn = f"{table}_append_only"
        forward = [
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{table} is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege'; "
            f"END; $$;",
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {fn}();",
        ]
        backward = [
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};",
            f"DROP FUNCTION IF EXISTS {fn}();",
        ]
        return forward, backward
    raise RuntimeError(f"append-only triggers are not implemented for database vendor {vendor!r}")


def append_only(table: str) -> migrations.RunPython:
    """A migration operation installing the triggers for `table` on the current database vendor."""

    def forward(apps: Any, schema_editor: Any) -> None:
        for statement in _sql(schema_editor.connection.vendor, table)[0]:
            schema_editor.execute(statement, params=None)

    def backward(apps: Any, schema_editor: Any) -> None:
        for statement in _sql(schema_editor.connection.vendor, table)[1]:
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forward, backward)
