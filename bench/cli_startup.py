"""Benchmark CLI start-up: wall time of `ketaclinic version`, `--version` and `score` in fresh interpreters.

Each command runs --runs times as `python -m ketaclinic.cli ...` in a new process; the script prints the median
and the fastest run, next to the cost of starting a bare interpreter (`python -c pass`) on the same machine, so a
loaded machine shows up in the baseline rather than being blamed on ketaclinic. The CPU column (user + system
time of the child) varies less than wall time when other work shares the machine. Goal (issue 19): `version` and
`score` under 150 ms.

Run: python bench/cli_startup.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CASES: dict[str, list[str]] = {
    "python -c pass (baseline)": ["-c", "pass"],
    "ketaclinic version": ["-m", "ketaclinic.cli", "version"],
    "ketaclinic --version": ["-m", "ketaclinic.cli", "--version"],
    "ketaclinic score phq9 --json": [
        "-m",
        "ketaclinic.cli",
        "score",
        "phq9",
        "--answers",
        "1,1,1,1,1,1,1,1,0",
        "--json",
    ],
    "ketaclinic --help": ["-m", "ketaclinic.cli", "--help"],
}


def time_case(args: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) milliseconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    env = dict(os.environ, KETACLINIC_HOME=tempfile.mkdtemp(prefix="ketaclinic-bench-"))
    results = {}
    for label, argv in CASES.items():
        time_case(argv, 2, env)  # warm the file cache and byte-code
        wall, cpu = time_case(argv, args.runs, env)
        results[label] = {
            "median_ms": round(statistics.median(wall), 1),
            "min_ms": round(min(wall), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
        }
    if args.json:
        print(json.dumps({"runs": args.runs, "cpus": os.cpu_count(), "results": results}))
        return
    print(f"CLI start-up, {args.runs} runs each, {os.cpu_count()} CPUs")
    for label, r in results.items():
        print(
            f"  {label:<32} median {r['median_ms']:7.1f} ms   fastest {r['min_ms']:7.1f} ms"
            f"   CPU {r['cpu_median_ms']:7.1f} ms"
        )


if __name__ == "__main__":
    main()
