"""Benchmark: sensor readings stored per second with alert evaluation, and reading-to-board alert latency.

Runs the web app's ingestion pipeline (ketaclinic.web.monitoring.pipeline: JSON batch -> core validation ->
one INSERT ... ON CONFLICT DO NOTHING RETURNING -> in-memory alert engine -> alert rows -> channel layer)
against PostgreSQL in a scratch schema it creates and drops, with 2 ingestion worker processes that each own
half of the sessions, and prints the figures next to the same machine's raw COPY rate into the same table.

    KETACLINIC_BENCH_DATABASE_URL  (default postgres://postgres@127.0.0.1:5432/test)
    REDIS_URL                      (default redis://127.0.0.1:6379/0; the board listens on a channel group)

Phases:
 1. raw COPY of N pre-formatted rows into an identical table (the storage limit on this machine);
 2. throughput: every simulated patient uploads a buffered backlog (default 10 min at 1 Hz, 5 metrics) in
    60-s batches, one transaction per batch, as fast as the workers can take them;
 3. latency: 200 patients streaming at 1 Hz in real time (one request-sized transaction per device per
    second), with scheduled SBP spikes that fire alerts and a burst of backlog uploads half-way; the board
    process subscribes to the channel group and records when each alert arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ketaclinic.core.monitoring import AlertEngine, EventKind, VitalsSimulator
from ketaclinic.core.monitoring.protocol import session_ruleset
from ketaclinic.web.monitoring.fastpath import Row, insert_rows_pg, reading_table_ddl
from ketaclinic.web.monitoring.pipeline import DeviceContext, ingest_items

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BOARD_GROUP = "kc-bench-board"


def _conninfo() -> str:
    return os.environ.get("KETACLINIC_BENCH_DATABASE_URL", DEFAULT_DB)


def _layer(redis_url: str) -> Any:
    from channels_redis.core import RedisChannelLayer

    return RedisChannelLayer(hosts=[redis_url])


ALERTS_DDL = """
    CREATE TABLE {s}.alerts (
        id bigserial PRIMARY KEY, session_id bigint NOT NULL, rule_id varchar(32) NOT NULL,
        severity varchar(8) NOT NULL, value double precision NOT NULL, message text NOT NULL,
        fired_at timestamptz NOT NULL, cleared_at timestamptz
    );
    CREATE UNIQUE INDEX alerts_open_once ON {s}.alerts (session_id, rule_id) WHERE cleared_at IS NULL;
"""


def setup(schema: str) -> None:
    with psycopg.connect(_conninfo(), autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
        c.execute(reading_table_ddl(f"{schema}.readings"))
        c.execute(reading_table_ddl(f"{schema}.copy_readings"))
        c.execute(ALERTS_DDL.format(s=schema))


def teardown(schema: str) -> None:
    with psycopg.connect(_conninfo(), autocommit=True) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# ------------------------------------------------------------------------------------------------ COPY


def copy_rate(schema: str, n: int) -> float:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    buf = io.StringIO()
    for i in range(n):
        ts = (t0 + timedelta(seconds=i // 1000)).isoformat()
        buf.write(f"{i % 1000 + 1}\t{i % 1000 + 1}\tsbp\t8480-6\t{120 + i % 40}\tmm[Hg]\t{ts}\t{i}\t{ts}\n")
    data = buf.getvalue().encode()
    cols = "device_id, session_id, metric, code, value, unit, measured_at, seq, received_at"
    with psycopg.connect(_conninfo()) as c:
        start = time.perf_counter()
        with c.cursor() as cur, cur.copy(f"COPY {schema}.copy_readings ({cols}) FROM STDIN") as cp:
            for k in range(0, len(data), 1 << 20):
                cp.write(data[k : k + (1 << 20)])
        c.commit()
        return n / (time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ workers


class Worker:
    """One ingestion process: owns its sessions' alert state, its own connection and channel layer."""

    def __init__(self, schema: str, redis_url: str | None) -> None:
        self.schema = schema
        self.conn = psycopg.connect(_conninfo())
        self.cur = psycopg.Cursor(self.conn)  # server-side binding: arrays go over in binary
        rs = session_ruleset()
        self.engine = AlertEngine(lambda _s: rs)
        self.layer = _layer(redis_url) if redis_url else None
        self.loop = asyncio.new_event_loop()
        self.table = f"{schema}.readings"
        self.alerts = 0

    def insert(self, rows: Sequence[Row]) -> list[int]:
        return insert_rows_pg(self.cur, self.table, rows, datetime.now(tz=UTC))

    def handle(self, device: DeviceContext, payload: bytes, arrived: float) -> int:
        """What the API endpoint does for one request: parse, ingest, store alerts, commit, push."""
        items = json.loads(payload)["readings"]
        now = datetime.now(tz=UTC)
        res = ingest_items(items, device=device, now=now, insert=self.insert, engine=self.engine)
        if res.events:
            fired = [e for e in res.events if e.kind is EventKind.FIRED]
            for e in res.events:
                if e.kind is EventKind.FIRED:
                    self.cur.execute(
                        f"INSERT INTO {self.schema}.alerts (session_id, rule_id, severity, value, message, fired_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (int(e.session), e.rule_id, e.severity.value, e.value, e.message, e.time),
                    )
                else:
                    self.cur.execute(
                        f"UPDATE {self.schema}.alerts SET cleared_at = %s WHERE session_id = %s AND rule_id = %s"
                        " AND cleared_at IS NULL",
                        (e.time, int(e.session), e.rule_id),
                    )
            self.conn.commit()
            if self.layer is not None and fired:
                msgs = [
                    {"type": "live.event", "event": {"type": "alert", "rule_id": e.rule_id, "session": e.session,
                                                     "arrived": arrived}}
                    for e in fired
                ]  # fmt: skip
                self.loop.run_until_complete(self._send(msgs))
            self.alerts += len(fired)
        else:
            self.conn.commit()
        return res.stored

    async def _send(self, msgs: list[dict[str, Any]]) -> None:
        for m in msgs:
            await self.layer.group_send(BOARD_GROUP, m)


def _device(p: int) -> DeviceContext:
    return DeviceContext(device_id=p + 1, device_key=f"dev-{p + 1}", session_id=p + 1)


def _backlog(
    patients: Sequence[int], seconds: int, seed: int, chunk: int, start: datetime
) -> list[tuple[int, bytes]]:
    out = []
    for p in patients:
        sim = VitalsSimulator(seed=seed, patient_index=p, start=start, minutes_since_dose=20)
        d = _device(p)
        for _ in range(0, seconds, chunk):
            batch = [r.compact(device=d.device_key, session=str(d.session_id)) for r in sim.stream(chunk)]
            out.append((p, json.dumps({"readings": batch}).encode()))
    return out


def throughput_worker(k: int, n: int, a: argparse.Namespace, schema: str, barrier: Any, q: Any) -> None:
    mine = [p for p in range(a.patients) if p % n == k]
    start = datetime.now(tz=UTC) - timedelta(seconds=a.backlog_seconds + 5)
    work = _backlog(mine, a.backlog_seconds, a.seed, 60, start)
    w = Worker(schema, None)
    barrier.wait()
    t0 = time.perf_counter()
    stored = 0
    for p, payload in work:
        stored += w.handle(_device(p), payload, time.time())
    q.put((k, stored, t0, time.perf_counter(), w.alerts))


def latency_worker(k: int, n: int, a: argparse.Namespace, schema: str, barrier: Any, q: Any) -> None:
    mine = [p for p in range(a.patients) if p % n == k]
    w = Worker(schema, a.redis)
    start = datetime.now(tz=UTC)
    offset = 10_000_000  # latency-phase devices/sessions are distinct from the throughput phase's
    sims = {
        p: VitalsSimulator(seed=a.seed + 1, patient_index=p, start=start, minutes_since_dose=30) for p in mine
    }
    burst = _backlog(
        [offset + p for p in range(a.patients) if p % n == k][: max(1, a.burst // (1500 * n))],
        300,
        a.seed + 2,
        60,
        start - timedelta(seconds=400),
    )
    barrier.wait()
    t0 = time.time()
    lag: list[float] = []
    pending: list[tuple[int, bytes]] = []
    # Devices are not in lockstep: each sends once a second at its own phase within the second.
    schedule = sorted(
        (t0 + tick + ((p * 0.6180339887) % 1.0), tick, p) for tick in range(a.latency_seconds) for p in mine
    )
    burst_at = t0 + a.latency_seconds // 2
    # One loop, like a server's event loop: a live batch when it is due, otherwise the next queued burst
    # upload (one 60-s batch at a time), otherwise sleep. Latency counts from the moment a batch was due
    # (sent by the device), so time spent queued behind the burst is included.
    i = 0
    while i < len(schedule):
        due, tick, p = schedule[i]
        if burst and time.time() >= burst_at:
            pending, burst = list(burst), []
        if time.time() < due:
            if pending:
                bp, payload = pending.pop(0)
                w.handle(_device(bp), payload, time.time())
                continue
            time.sleep(max(0.0, due - time.time()))  # the due time may pass between the check and here
        d = DeviceContext(device_id=offset * 2 + p, device_key=f"lat-{p}", session_id=offset * 2 + p)
        readings = []
        for r in sims[p].tick():
            v = r.value
            if r.metric == "sbp":
                v = 195.0 if (tick + p) % 97 == 0 else 125.0  # scheduled spikes fire sbp-high
            c = r.compact(device=d.device_key, session=str(d.session_id))
            c["value"] = v
            c["time"] = datetime.fromtimestamp(due, tz=UTC).isoformat()
            readings.append(c)
        lag.append(time.time() - due)
        w.handle(d, json.dumps({"readings": readings}).encode(), due)
        i += 1
    for p, payload in pending:
        w.handle(_device(p), payload, time.time())
    q.put((k, w.alerts, max(lag) if lag else 0.0))


def board(redis_url: str, ready: Any, stop: Any, q: Any) -> None:
    async def run() -> list[float]:
        layer = _layer(redis_url)
        ch = await layer.new_channel()
        await layer.group_add(BOARD_GROUP, ch)
        ready.set()
        lat: list[float] = []
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(layer.receive(ch), timeout=0.5)
            except TimeoutError:
                continue
            lat.append(time.time() - msg["event"]["arrived"])
        return lat

    q.put(asyncio.run(run()))


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backlog-seconds", type=int, default=600, help="buffered seconds per patient (phase 2)")
    ap.add_argument("--latency-seconds", type=int, default=30, help="real-time seconds at 1 Hz (phase 3)")
    ap.add_argument("--burst", type=int, default=30_000, help="readings uploaded at once half-way (phase 3)")
    ap.add_argument("--copy-rows", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    a = ap.parse_args()
    schema = f"kc_bench_{os.getpid()}"
    setup(schema)
    ctx = mp.get_context("spawn")
    try:
        copy = copy_rate(schema, a.copy_rows)
        print(f"raw COPY into the same table: {copy:,.0f} rows/s ({a.copy_rows:,} rows)", flush=True)

        q = ctx.Queue()
        barrier = ctx.Barrier(a.workers)
        procs = [
            ctx.Process(target=throughput_worker, args=(k, a.workers, a, schema, barrier, q))
            for k in range(a.workers)
        ]
        for pr in procs:
            pr.start()
        res = [q.get() for _ in procs]
        for pr in procs:
            pr.join()
        stored = sum(r[1] for r in res)
        span = max(r[3] for r in res) - min(r[2] for r in res)
        with psycopg.connect(_conninfo()) as c:
            (count,) = c.execute(f"SELECT count(*) FROM {schema}.readings").fetchone()  # type: ignore[misc]
        print(
            f"ingest (validate + store + evaluate, {a.workers} workers, 60-s device batches): "
            f"{stored / span:,.0f} readings/s ({stored:,} stored in {span:.1f} s; {count:,} rows in the table; "
            f"{sum(r[4] for r in res)} alerts)",
            flush=True,
        )

        ready, stop = ctx.Event(), ctx.Event()
        bq = ctx.Queue()
        bp = ctx.Process(target=board, args=(a.redis, ready, stop, bq))
        bp.start()
        if not ready.wait(10):
            print("board could not subscribe to the channel layer (is Redis running?)", file=sys.stderr)
            bp.terminate()
            return 1
        q2 = ctx.Queue()
        barrier2 = ctx.Barrier(a.workers)
        procs = [
            ctx.Process(target=latency_worker, args=(k, a.workers, a, schema, barrier2, q2))
            for k in range(a.workers)
        ]
        for pr in procs:
            pr.start()
        res2 = [q2.get() for _ in procs]
        for pr in procs:
            pr.join()
        time.sleep(1.0)
        stop.set()
        lat = bq.get()
        bp.join()
        fired = sum(r[1] for r in res2)
        print(
            f"alert latency, reading arrival -> board ({a.patients} patients at 1 Hz, {a.latency_seconds} s, "
            f"burst of ~{a.burst:,} readings half-way): p50 {pct(lat, 50) * 1000:.1f} ms, "
            f"p99 {pct(lat, 99) * 1000:.1f} ms, max {max(lat, default=float('nan')) * 1000:.1f} ms "
            f"({len(lat)} of {fired} alerts received; worst start delay of a live batch {max(r[2] for r in res2) * 1000:.0f} ms)",
            flush=True,
        )
        print(
            f"targets: >= 20,000 readings/s -> {'met' if stored / span >= 20_000 else 'NOT met'}; "
            f"p99 < 250 ms -> {'met' if pct(lat, 99) < 0.25 else 'NOT met'}"
        )
    finally:
        teardown(schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
