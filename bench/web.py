"""Benchmark: pages under load, single-user chart tabs, and 20 concurrent sign-ins, against a real `serve`.

Starts `ketaclinic serve` (uvicorn, the production ASGI app) on the configured DATABASE_URL (and REDIS_URL if
set), on a dataset made by `ketaclinic manage generate-dataset ... --manifest FILE`, then:

 1. sign-ins: every staff user of the manifest signs in at once (real Argon2 hashes); prints p50/p95 and the
    server's peak resident memory (all its processes) while they run, and one sign-in alone;
 2. load: each signed-in user loops over a random patient's chart (every tab), the patient list, the
    sessions board, the live monitoring board and the API lists (patients, assessments) for --duration
    seconds; prints requests/s and p50/p95 per kind, beside the trivial view's (`/healthz`) p95 measured in
    the same run, and the chart's p95 as a multiple of it;
 3. single user: one user opens every chart tab of the patient with the most scores (--single N times each)
    and prints each tab's p95.

    python bench/web.py --manifest /tmp/manifest.json [--workers 2] [--duration 30] [--runs 3] [--json]

The client runs on the same machine as the server and takes CPU from it: figures are a lower bound for a
server with its own cores. Every figure is the median of --runs runs with its range.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children, MB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Server:
    def __init__(self, workers: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
            "KETACLINIC_RATE_ADDRESS": "100000",  # the bench signs everyone in from one address, repeatedly
            "KETACLINIC_RATE_USERNAME": "100000",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("KETACLINIC_TESTING", None)
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-web-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.cli", "serve", "--dev", "--port", str(self.port),
             "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {self.log.name}")
            time.sleep(0.5)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def sign_in(url: str, username: str, password: str) -> tuple[httpx.Client, float]:
    c = httpx.Client(base_url=url, timeout=60)
    c.get("/accounts/login/")
    t = time.perf_counter()
    r = c.post("/accounts/login/", data={"username": username, "password": password,
                                         "csrfmiddlewaretoken": c.cookies["csrftoken"]})  # fmt: skip
    took = time.perf_counter() - t
    if r.status_code != 302:
        raise SystemExit(f"sign-in of {username} failed: HTTP {r.status_code}")
    return c, took


def chart_urls(patient_id: int) -> dict[str, str]:
    from django.urls import NoReverseMatch, reverse

    from ketaclinic.web.patients.tabs import CHART_TABS

    out = {}
    for tab in CHART_TABS:
        try:
            out[tab.slug] = reverse(tab.url_name, kwargs={"patient_id": patient_id})
        except NoReverseMatch:
            continue
    return out


def run_once(m: dict[str, Any], workers: int, duration: float, single: int) -> dict[str, Any]:
    from django.urls import reverse

    server = Server(workers)
    try:
        users, password = m["usernames"], m["password"]
        # 1. one sign-in alone, then everyone at once while sampling the server's memory
        c0, alone = sign_in(server.url, users[0], password)
        c0.close()
        peak = [_rss_mb(server.proc.pid)]
        idle_rss = peak[0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(_rss_mb(server.proc.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        clients: list[httpx.Client | None] = [None] * len(users)
        times: list[float] = [0.0] * len(users)

        def one(i: int) -> None:
            clients[i], times[i] = sign_in(server.url, users[i], password)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(users))]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        burst = time.perf_counter() - t0
        stop.set()
        sampler.join()

        # 2. load
        pids = list(range(m["heavy_patient_id"] - m["patients"] + 1, m["heavy_patient_id"] + 1))
        site = m["site_ids"][0]
        fixed: list[tuple[str, str]] = [
            ("trivial", "/healthz"),
            ("patient list", reverse("patients:list")),
            ("sessions board", reverse("treatment:board")),
            ("live board", reverse("monitoring:site_board", kwargs={"site_id": site})),
            ("api patients", "/api/v1/patients/?limit=50"),
        ]
        lat: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        lock = threading.Lock()
        end = time.monotonic() + duration

        def loop(c: httpx.Client, seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < end:
                pid = rng.choice(pids)
                work = [("chart", u) for u in chart_urls(pid).values()]
                work += [*fixed, ("api assessments", f"/api/v1/assessments/patients/{pid}/assessments")]
                rng.shuffle(work)
                for kind, u in work:
                    if time.monotonic() >= end:
                        return
                    t = time.perf_counter()
                    r = c.get(u)
                    dt_ = time.perf_counter() - t
                    with lock:
                        lat[kind].append(dt_)
                        if r.status_code != 200:
                            errors[f"{kind} {r.status_code}"] += 1

        t0 = time.perf_counter()
        load = [threading.Thread(target=loop, args=(c, i)) for i, c in enumerate(clients) if c is not None]
        for t in load:
            t.start()
        for t in load:
            t.join()
        elapsed = time.perf_counter() - t0
        total = sum(len(v) for v in lat.values())

        # 3. single user, the heavy patient's chart
        heavy = m["heavy_patient_id"]
        c = clients[0]
        assert c is not None
        tabs: dict[str, list[float]] = defaultdict(list)
        for slug, u in chart_urls(heavy).items():
            c.get(u)  # warm
            for _ in range(single):
                t = time.perf_counter()
                r = c.get(u)
                tabs[slug].append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors[f"single {slug} {r.status_code}"] += 1
        for cl in clients:
            if cl is not None:
                cl.close()
        return {
            "sign_in_alone_ms": alone * 1000,
            "sign_in_20_p95_ms": pct(times, 95) * 1000,
            "sign_in_20_wall_s": burst,
            "rss_idle_mb": idle_rss,
            "rss_peak_sign_in_mb": max(peak),
            "requests_per_s": total / elapsed,
            "p95_ms": {k: pct(v, 95) * 1000 for k, v in sorted(lat.items())},
            "p50_ms": {k: pct(v, 50) * 1000 for k, v in sorted(lat.items())},
            "chart_p95_over_trivial_p95": pct(lat["chart"], 95) / pct(lat["trivial"], 95),
            "single_user_tab_p95_ms": {k: pct(v, 95) * 1000 for k, v in tabs.items()},
            "errors": dict(errors),
            "requests": total,
        }
    finally:
        server.stop()


def _summary(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> str:
    vals = [key(r) for r in runs]
    return f"{statistics.median(vals):8.1f}  (range {min(vals):.1f}-{max(vals):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="the file written by generate-dataset --manifest")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    ap.add_argument("--single", type=int, default=30, help="requests per tab in the single-user phase")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object with every run")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()
    m = json.loads(Path(a.manifest).read_text())
    runs = [run_once(m, a.workers, a.duration, a.single) for _ in range(a.runs)]
    if a.json:
        print(json.dumps({"runs": runs, "workers": a.workers, "cpus": os.cpu_count()}))
        return
    print(f"bench/web.py: {len(runs)} run(s), {a.workers} worker(s) on {os.cpu_count()} CPU(s), "
          f"{m['patients']} patients, {len(m['usernames'])} users; median (range)")  # fmt: skip
    print(f"  one sign-in, ms                 {_summary(runs, lambda r: r['sign_in_alone_ms'])}")
    print(f"  20 sign-ins at once, p95 ms     {_summary(runs, lambda r: r['sign_in_20_p95_ms'])}")
    print(f"  server memory peak, MB          {_summary(runs, lambda r: r['rss_peak_sign_in_mb'])}")
    print(f"  requests/s under load           {_summary(runs, lambda r: r['requests_per_s'])}")
    for kind in sorted(runs[0]["p95_ms"]):
        print(f"  p95 ms {kind:<24} {_summary(runs, lambda r, k=kind: r['p95_ms'].get(k, float('nan')))}")
    print(f"  chart p95 / trivial p95         {_summary(runs, lambda r: r['chart_p95_over_trivial_p95'])}")
    for slug in runs[0]["single_user_tab_p95_ms"]:
        print(
            f"  single user p95 ms {slug:<12} {_summary(runs, lambda r, s=slug: r['single_user_tab_p95_ms'][s])}"
        )
    errs = [r["errors"] for r in runs if r["errors"]]
    if errs:
        print(f"  non-200 responses: {errs}")


if __name__ == "__main__":
    main()
