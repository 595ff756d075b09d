"""Benchmark: the clinic outcomes page for 10,000 patients and 200,000 scores on PostgreSQL.

Creates a scratch database (dropped at the end unless --keep), migrates it, bulk-inserts a synthetic clinic
(ketaclinic.web.outcomes.synthetic.generate_clinic: 10,000 IV courses with 6 sessions each and 20 PHQ-9 scores
per patient, 2 before the first dose), then times:
 1. the report behind the page (cohort query, engine, weekly means, waterfall, Kaplan-Meier, durability,
    safety counts and the four SVG charts), with its SQL query count;
 2. the whole page: GET /outcomes/ through Django's test client as a signed-in prescriber (template, audit row).
Each figure is the median of --runs runs, with the range.

    python bench/outcomes.py [--patients 10000] [--scores 20] [--runs 5] [--keep] [--reuse NAME] [--json]
    (--keep prints the scratch database's name; --reuse NAME times a kept one again without regenerating)
    KETACLINIC_BENCH_DATABASE_URL  (default postgres://postgres@127.0.0.1:5432/test; the scratch database is
                                    created beside it)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/test"


def _scratch_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--scores", type=int, default=20, help="scores per patient")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--reuse", metavar="NAME", help="time a database kept by an earlier --keep run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import psycopg

    base = os.environ.get("KETACLINIC_BENCH_DATABASE_URL", DEFAULT_DB)
    name = args.reuse or f"bench_outcomes_{os.getpid()}"
    if args.reuse:
        args.keep = True
    else:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    if args.keep and not args.json:
        print(f"scratch database: {name}", file=sys.stderr)
    os.environ["DATABASE_URL"] = _scratch_url(base, name)
    os.environ.setdefault("KETACLINIC_HOME", tempfile.mkdtemp(prefix="kc-bench-outcomes-"))
    os.environ.pop("REDIS_URL", None)
    out: dict[str, Any] = {}
    try:
        out = run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if args.json:
        print(json.dumps(out))
    return 0


def _median_range(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.0f} ms (range {min(xs) * 1000:.0f}-{max(xs) * 1000:.0f})"


def run(args: Any) -> dict[str, Any]:
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ketaclinic.web.accounts.models import Membership, User
    from ketaclinic.web.clinics.models import Clinic, Site
    from ketaclinic.web.outcomes.selectors import OutcomeFilters
    from ketaclinic.web.outcomes.synthetic import generate_clinic
    from ketaclinic.web.outcomes.views import build_report

    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    log(f"migrated in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    if args.reuse:
        from ketaclinic.web.assessments.models import Assessment
        from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

        clinic = Clinic.objects.get(slug="bench")
        user = User.objects.get(username="bench-prescriber")
        made = {
            "patients": TreatmentCourse.objects.filter(clinic=clinic).values("patient").distinct().count(),
            "scores": Assessment.objects.filter(clinic=clinic).count(),
            "sessions": DosingSession.objects.filter(clinic=clinic).count(),
        }
    else:
        clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", is_synthetic=True)
        site = Site.objects.create(clinic=clinic, name="Main", jurisdiction="US-CA")
        user = User.objects.create(username="bench-prescriber")
        Membership.objects.create(user=user, clinic=clinic, role="prescriber")
        made = generate_clinic(
            clinic=clinic,
            site=site,
            actor=user,
            patients=args.patients,
            scores_per_patient=args.scores,
            progress=lambda n: log(f"  +{n} patients"),
        )
    gen_s = time.perf_counter() - t
    log(f"generated {made} in {gen_s:.1f} s")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    report_times: list[float] = []
    report_cpu: list[float] = []
    page_cpu: list[float] = []
    queries = 0
    report: dict[str, Any] = {}
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as ctx:
            t, c = time.perf_counter(), time.process_time()
            report = build_report(clinic, OutcomeFilters())
            report_times.append(time.perf_counter() - t)
            report_cpu.append(time.process_time() - c)
        queries = len(ctx.captured_queries)
    client = Client()
    client.force_login(user)
    page_times: list[float] = []
    page_queries = 0
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as ctx:
            t, c = time.perf_counter(), time.process_time()
            r = client.get("/outcomes/")
            page_times.append(time.perf_counter() - t)
            page_cpu.append(time.process_time() - c)
        assert r.status_code == 200, r.status_code
        page_queries = len(ctx.captured_queries)
    res = report["result"]
    out = {
        "patients": made["patients"],
        "scores": made["scores"],
        "sessions": made["sessions"],
        "generate_s": round(gen_s, 1),
        "report_ms_median": round(statistics.median(report_times) * 1000),
        "report_ms_range": [round(min(report_times) * 1000), round(max(report_times) * 1000)],
        "report_queries": queries,
        "page_ms_median": round(statistics.median(page_times) * 1000),
        "page_ms_range": [round(min(page_times) * 1000), round(max(page_times) * 1000)],
        "page_queries": page_queries,
        "report_cpu_ms_median": round(statistics.median(report_cpu) * 1000),
        "page_cpu_ms_median": round(statistics.median(page_cpu) * 1000),
        "load_average": round(os.getloadavg()[0], 1),
        "evaluable": res.evaluable,
        "response_rate": res.response.rate,
    }
    if not args.json:
        load = os.getloadavg()
        print(f"load average while measuring: {load[0]:.1f} (on {os.cpu_count()} CPUs)")
        print(
            f"dataset: {made['patients']} patients, {made['scores']} scores, {made['sessions']} sessions "
            f"(bulk insert {gen_s:.1f} s)"
        )
        print(
            f"outcomes report: {_median_range(report_times)}, {queries} SQL queries; "
            f"this process's CPU {statistics.median(report_cpu) * 1000:.0f} ms"
        )
        print(
            f"outcomes page (GET /outcomes/): {_median_range(page_times)}, {page_queries} SQL queries; "
            f"this process's CPU {statistics.median(page_cpu) * 1000:.0f} ms"
        )
        print(f"cohort: {res.n} enrolled, {res.evaluable} evaluable, response {res.response.rate:.3f}")
    return out


if __name__ == "__main__":
    sys.exit(main())
