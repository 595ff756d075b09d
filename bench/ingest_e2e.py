"""Benchmark: vitals end to end through a real `serve`: device tokens, HTTP and WebSocket ingestion, the real
tables with their indexes, alert rules, Channels over Redis, and the nurse's board socket.

Needs a dataset with sessions in progress and attached sensors:
    ketaclinic manage generate-dataset --patients 2000 --observations 100000 --live-sessions 200 --manifest M
    python bench/ingest_e2e.py --manifest M [--workers 2] [--seconds 60] [--runs 3]

Phases (each run starts its own server on DATABASE_URL with REDIS_URL):
 1. raw COPY of --copy-rows rows into a temporary copy of the readings table with the same indexes: the
    storage limit of this machine, printed beside the figures below;
 2. throughput: every device uploads a backlog (--backlog-seconds of 5 vital signs at 1 Hz) over HTTP in
    60-s batches, all devices at once; readings stored per second;
 3. latency: every device streams 5 vital signs at 1 Hz over its WebSocket in real time, each sends one
    systolic spike (195 mmHg) at its own moment, and a burst of backlog uploads over HTTP arrives half-way;
    a signed-in nurse's board socket per site records when each alert arrives. Latency is from the device's
    send of the spike to the board's receipt.

The devices, the board and the server share this machine's CPUs: figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web import Server, pct, sign_in

METRICS = (("8480-6", "mm[Hg]", 125.0), ("8462-4", "mm[Hg]", 78.0), ("8867-4", "/min", 74.0),
           ("59408-5", "%", 97.0), ("9279-1", "/min", 14.0))  # fmt: skip


def _readings(
    dev: dict[str, Any], at: dt.datetime, seq0: int, *, spike: bool = False
) -> list[dict[str, Any]]:
    return [
        {"device": str(dev["device"]), "session": str(dev["session"]), "metric": code, "unit": unit,
         "value": 195.0 if (spike and k == 0) else base, "time": at.isoformat(), "seq": seq0 + k}
        for k, (code, unit, base) in enumerate(METRICS)
    ]  # fmt: skip


def raw_copy_rate(n: int) -> float:
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as c:
        c.execute("CREATE TEMP TABLE bench_copy (LIKE monitoring_sensorreading INCLUDING ALL)")
        t0 = dt.datetime.now(tz=dt.UTC)
        cols = "device_id, session_id, metric, code, value, unit, measured_at, seq, received_at"
        start = time.perf_counter()
        with c.cursor().copy(f"COPY bench_copy ({cols}) FROM STDIN") as cp:
            for i in range(n):
                ts = t0 + dt.timedelta(seconds=i // 1000)
                cp.write_row((i % 1000 + 1, i % 1000 + 1, "sbp", "8480-6", 120 + i % 40, "mm[Hg]", ts, i, ts))
        c.commit()
        return n / (time.perf_counter() - start)


async def throughput(
    url: str, devs: list[dict[str, Any]], backlog_s: int, seq_base: int
) -> tuple[int, float]:
    start_at = dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=backlog_s + 600)

    async def upload(c: httpx.AsyncClient, dev: dict[str, Any]) -> int:
        stored = 0
        for b0 in range(0, backlog_s, 60):
            batch = []
            for s in range(b0, min(b0 + 60, backlog_s)):
                batch += _readings(dev, start_at + dt.timedelta(seconds=s), seq_base + s * 5)
            r = await c.post("/api/v1/monitoring/ingest", json={"readings": batch},
                             headers={"Authorization": f"Bearer {dev['token']}"})  # fmt: skip
            r.raise_for_status()
            stored += int(r.json()["stored"])
        return stored

    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        t = time.perf_counter()
        counts = await asyncio.gather(*(upload(c, d) for d in devs))
        return sum(counts), time.perf_counter() - t


async def latency(url: str, port: int, devs: list[dict[str, Any]], cookie: str, seconds: int,
                  seq_base: int) -> dict[str, Any]:  # fmt: skip
    sent: dict[int, float] = {}  # session -> monotonic time the spike was sent
    got: dict[int, float] = {}
    lag: list[float] = []
    stop = asyncio.Event()

    async def board(site: int) -> None:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/monitoring/board/{site}/",
            additional_headers={"Cookie": f"sessionid={cookie}"}, origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        ) as ws:  # fmt: skip
            while not stop.is_set():
                try:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                if ev.get("type") == "alert" and ev.get("rule_id") == "sbp-high" and ev["session"] not in got:
                    got[ev["session"]] = time.monotonic()

    async def device(i: int, dev: dict[str, Any]) -> None:
        spike_at = 3 + (i * 7919) % max(1, seconds - 10)
        phase = (i * 0.6180339887) % 1.0
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/monitoring/ingest/",
                                      additional_headers={"Authorization": f"Bearer {dev['token']}"}) as ws:  # fmt: skip
            t0 = time.monotonic() + phase
            for tick in range(seconds):
                due = t0 + tick
                await asyncio.sleep(max(0.0, due - time.monotonic()))  # never a negative sleep
                lag.append(time.monotonic() - due)
                spike = tick == spike_at
                batch = _readings(dev, dt.datetime.now(tz=dt.UTC), seq_base + tick * 5, spike=spike)
                if spike:
                    sent[int(dev["session"])] = time.monotonic()
                await ws.send(json.dumps({"id": tick, "readings": batch}))
                await ws.recv()

    boards = [asyncio.create_task(board(s)) for s in sorted({d["site"] for d in devs})]
    await asyncio.sleep(1.0)
    burst = asyncio.create_task(_later(seconds / 2, throughput(url, devs[: max(1, len(devs) // 10)], 120,
                                                               seq_base + 10_000_000)))  # fmt: skip
    await asyncio.gather(*(device(i, d) for i, d in enumerate(devs)))
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.gather(*boards)
    burst_stored, _ = await burst
    lat = [got[s] - sent[s] for s in sent if s in got]
    return {"alerts_sent": len(sent), "alerts_received": len(lat), "p50_ms": pct(lat, 50) * 1000,
            "p99_ms": pct(lat, 99) * 1000, "max_ms": max(lat, default=float("nan")) * 1000,
            "burst_readings": burst_stored, "worst_send_lag_ms": max(lag, default=0.0) * 1000,
            "live_readings": len(devs) * seconds * 5}  # fmt: skip


async def _later(delay: float, coro: Any) -> Any:
    await asyncio.sleep(delay)
    return await coro


def run_once(m: dict[str, Any], a: argparse.Namespace, k: int) -> dict[str, Any]:
    devs = m["live_sessions"][: a.devices] if a.devices else m["live_sessions"]
    copy = raw_copy_rate(a.copy_rows)
    server = Server(a.workers)
    try:
        client, _ = sign_in(server.url, m["usernames"][0], m["password"])
        cookie = str(client.cookies["sessionid"])
        base = (int(time.time()) % 100_000) * 100_000_000 + k * 10_000_000  # fresh sequence numbers per run
        stored, took = asyncio.run(throughput(server.url, devs, a.backlog_seconds, base))
        lat = asyncio.run(latency(server.url, server.port, devs, cookie, a.seconds, base + 50_000_000))
        client.close()
    finally:
        server.stop()
    return {"copy_rows_per_s": copy, "http_readings_per_s": stored / took, "http_stored": stored, **lat}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--devices", type=int, default=0, help="use this many of the manifest's devices (0: all)")
    ap.add_argument("--seconds", type=int, default=60, help="length of the real-time latency phase")
    ap.add_argument(
        "--backlog-seconds", type=int, default=600, help="backlog per device in the throughput phase"
    )
    ap.add_argument("--copy-rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()
    m = json.loads(Path(a.manifest).read_text())
    runs = [run_once(m, a, k) for k in range(a.runs)]
    if a.json:
        print(json.dumps({"runs": runs, "workers": a.workers, "cpus": os.cpu_count()}))
        return 0
    n = len(m["live_sessions"][: a.devices] if a.devices else m["live_sessions"])

    def fig(key: str) -> str:
        vals = [r[key] for r in runs]
        return f"{statistics.median(vals):10,.1f}  (range {min(vals):,.1f}-{max(vals):,.1f})"

    print(
        f"bench/ingest_e2e.py: {len(runs)} run(s), {a.workers} worker(s) on {os.cpu_count()} CPU(s), {n} devices"
    )
    print(f"  raw COPY into the readings table's shape, rows/s   {fig('copy_rows_per_s')}")
    print(f"  HTTP ingestion, backlog batches, readings/s       {fig('http_readings_per_s')}")
    print(f"  alert latency device -> board, p50 ms             {fig('p50_ms')}")
    print(f"  alert latency device -> board, p99 ms             {fig('p99_ms')}")
    print(f"  alert latency device -> board, max ms             {fig('max_ms')}")
    print(
        f"  alerts received / sent                            {[(r['alerts_received'], r['alerts_sent']) for r in runs]}"
    )
    print(f"  worst lateness of a device's 1 Hz send, ms        {fig('worst_send_lag_ms')}")
    rate = statistics.median(r["http_readings_per_s"] for r in runs)
    p99 = statistics.median(r["p99_ms"] for r in runs)
    print(f"  targets: >= 20,000 readings/s -> {'met' if rate >= 20_000 else 'NOT met'}; "
          f"p99 < 250 ms -> {'met' if p99 < 250 else 'NOT met'} ({n} devices; the target is 200)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
