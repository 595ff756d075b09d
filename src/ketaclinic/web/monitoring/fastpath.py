"""The ingestion fast path: one set-based INSERT ... ON CONFLICT DO NOTHING RETURNING per batch.

Works on a raw DB-API cursor and a table name so that the web app (through Django's connection) and
bench/ingest.py (through its own psycopg connection and scratch schema) run the very same SQL.
Idempotency is the table's unique constraint on (device_id, code, seq): a retried batch inserts nothing,
and RETURNING tells exactly which readings are new, so only those are evaluated by the alert rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

READING_COLUMNS = (
    "device_id",
    "session_id",
    "metric",
    "code",
    "value",
    "unit",
    "measured_at",
    "seq",
    "received_at",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One validated reading ready to store (ids resolved, value in canonical units)."""

    device_id: int
    session_id: int
    metric: str
    code: str
    value: float
    unit: str
    measured_at: datetime
    seq: int


def reading_table_ddl(
    table: str, *, device_table: str | None = None, session_table: str | None = None
) -> str:
    """DDL of the readings table as the bench creates it (the Django model creates the same shape)."""
    dev = f" REFERENCES {device_table}(id)" if device_table else ""
    ses = f" REFERENCES {session_table}(id)" if session_table else ""
    return f"""
        CREATE TABLE {table} (
            id bigserial PRIMARY KEY,
            device_id bigint NOT NULL{dev},
            session_id bigint NOT NULL{ses},
            metric varchar(8) NOT NULL,
            code varchar(16) NOT NULL,
            value double precision NOT NULL,
            unit varchar(16) NOT NULL,
            measured_at timestamptz NOT NULL,
            seq bigint NOT NULL,
            received_at timestamptz NOT NULL,
            CONSTRAINT {table.replace(".", "_")}_once UNIQUE (device_id, code, seq)
        );
        CREATE INDEX {table.replace(".", "_")}_session_time ON {table} (session_id, measured_at);
    """


def insert_sql_pg(table: str) -> str:
    # table names are code constants, never user input
    return (
        f"INSERT INTO {table} ({', '.join(READING_COLUMNS)}) "  # noqa: S608
        "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::float8[], %s::text[], "
        "%s::timestamptz[], %s::bigint[], %s::timestamptz[]) "
        "ON CONFLICT (device_id, code, seq) DO NOTHING RETURNING device_id, code, seq"
    )


#: From this many rows a batch goes through binary COPY into a temporary table, then one INSERT ... SELECT.
COPY_THRESHOLD = 300

_PG_TYPES = ["int8", "int8", "text", "text", "float8", "text", "timestamptz", "int8", "timestamptz"]


def _copy_insert_pg(cursor: Any, table: str, rows: Sequence[Row], received_at: datetime) -> None:
    cols = ", ".join(READING_COLUMNS)
    # Explicit columns (not LIKE): the real table's identity id must not be copied into the scratch table.
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS kc_ingest_tmp (device_id bigint, session_id bigint, metric text, "
        "code text, value float8, unit text, measured_at timestamptz, seq bigint, received_at timestamptz) "
        "ON COMMIT DELETE ROWS"
    )
    with cursor.copy(f"COPY kc_ingest_tmp ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(_PG_TYPES)
        for r in rows:
            cp.write_row(
                (
                    r.device_id,
                    r.session_id,
                    r.metric,
                    r.code,
                    r.value,
                    r.unit,
                    r.measured_at,
                    r.seq,
                    received_at,
                )
            )
    cursor.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM kc_ingest_tmp "  # noqa: S608
        "ON CONFLICT (device_id, code, seq) DO NOTHING RETURNING device_id, code, seq"
    )


def insert_rows_pg(cursor: Any, table: str, rows: Sequence[Row], received_at: datetime) -> list[int]:
    """Insert `rows` (PostgreSQL) in one statement; return the indexes of the rows that were new.

    Small batches use INSERT ... SELECT FROM unnest(arrays); large ones binary COPY into a temporary table
    (emptied at commit) and INSERT ... SELECT from it. Both end in ON CONFLICT DO NOTHING RETURNING.
    """
    if not rows:
        return []
    if len(rows) >= COPY_THRESHOLD:
        _copy_insert_pg(cursor, table, rows, received_at)
    else:
        _unnest_insert_pg(cursor, table, rows, received_at)
    new = {(int(d), str(c), int(s)) for d, c, s in cursor.fetchall()}
    out = []
    for i, r in enumerate(rows):
        key = (r.device_id, r.code, r.seq)
        if key in new:
            new.discard(key)  # a duplicate inside the same batch counts once
            out.append(i)
    return out


def _unnest_insert_pg(cursor: Any, table: str, rows: Sequence[Row], received_at: datetime) -> None:
    cursor.execute(
        insert_sql_pg(table),
        (
            [r.device_id for r in rows],
            [r.session_id for r in rows],
            [r.metric for r in rows],
            [r.code for r in rows],
            [r.value for r in rows],
            [r.unit for r in rows],
            [r.measured_at for r in rows],
            [r.seq for r in rows],
            [received_at] * len(rows),
        ),
    )
