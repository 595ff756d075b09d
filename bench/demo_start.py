"""Benchmark: the first `ketaclinic demo` start, from the command to the line "Serving on ...".

Each run uses a new, empty data directory (so it migrates and seeds from nothing), starts `python -m
ketaclinic.cli demo --port P` in a fresh process, reads its output until "Serving on" appears, then stops the
server (SIGINT, then SIGTERM/kill if needed). It prints each run's time, the median, the CPU time the demo
process used until then (less disturbed by other work on the machine than wall time) and the load average.
Goal (issue 19): under 15 s on 2 cores.

    python bench/demo_start.py [--runs 3] [--port 8765] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


def one_run(port: int, timeout: float) -> tuple[float, float]:
    home = tempfile.mkdtemp(prefix="kc-demo-bench-")
    env = {**os.environ, "KETACLINIC_HOME": home}
    env.pop("DATABASE_URL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ketaclinic.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    elapsed = None
    try:
        assert proc.stdout is not None
        deadline = t0 + timeout
        for line in proc.stdout:
            if "Serving on" in line:
                elapsed = time.perf_counter() - t0
                break
            if time.perf_counter() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if elapsed is None:
        raise RuntimeError(f"demo did not print 'Serving on' within {timeout:.0f} s (exit {proc.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    times: list[float] = []
    cpus: list[float] = []
    for i in range(args.runs):
        wall, cpu = one_run(_free_port(args.port), args.timeout)
        times.append(wall)
        cpus.append(cpu)
        if not args.json:
            print(f"run {i + 1}: {wall:.1f} s to 'Serving on' (demo process CPU {cpu:.1f} s)", flush=True)
    load = os.getloadavg()[0]
    out = {
        "runs": args.runs,
        "median_s": round(statistics.median(times), 1),
        "fastest_s": round(min(times), 1),
        "cpu_median_s": round(statistics.median(cpus), 1),
        "load_average": round(load, 1),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"first demo start: median {out['median_s']} s, fastest {out['fastest_s']} s, demo process CPU "
            f"{out['cpu_median_s']} s; load average {load:.1f} on {os.cpu_count()} CPUs (goal: under 15 s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
