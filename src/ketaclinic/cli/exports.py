"""`ketaclinic export-fhir`, `ketaclinic export-research` (with a progress bar) and `ketaclinic outcomes-recompute`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import emit_json, fail


def _setup() -> None:
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()


def _clinic_and_user(clinic_slug: str, username: str, perms: tuple[Any, ...]) -> tuple[Any, Any]:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.accounts.roles import has_perm_in_clinic
    from ketaclinic.web.clinics.models import Clinic

    clinic = Clinic.objects.filter(slug=clinic_slug).first()
    if clinic is None:
        fail(f"clinic: no clinic with slug {clinic_slug!r}")
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        fail(f"user: no active user {username!r}")
    for perm in perms:
        if not has_perm_in_clinic(user, clinic, perm):
            fail(f"user: {username} may not do {perm.value} in {clinic_slug}")
    return clinic, user


def _run(job: Any, out: Path | None, as_json: bool, label: str) -> None:
    from ketaclinic.web.outcomes.exports import export_dir, run_job

    # The bar goes to stderr, so `--json` leaves exactly one object on stdout.
    with typer.progressbar(length=100, label=label, file=sys.stderr) as bar:
        done = {"pct": 0}

        def progress(n: int, total: int) -> None:
            pct = int(100 * n / total) if total else 100
            bar.update(pct - done["pct"])
            done["pct"] = pct

        run_job(job, progress=progress)
        bar.update(100 - done["pct"])
    job.refresh_from_db()
    src = export_dir(job)
    files = []
    for o in job.output:
        path = src / o["file"]
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = Path(shutil.copy2(path, out / o["file"]))
        files.append({"type": o["type"], "file": str(path), "count": o["count"]})
    if as_json:
        emit_json({"job": str(job.pk), "status": job.status, "output": files})
        return
    for f in files:
        typer.echo(f"{f['type']}: {f['count']} -> {f['file']}")


def open_devnull() -> Any:
    import os

    return open(os.devnull, "w")


def register(app: typer.Typer) -> None:
    """Add `export-fhir`, `export-research` and `outcomes-recompute` to `app`."""

    @app.command("export-fhir")
    def export_fhir(
        clinic: Annotated[str, typer.Option("--clinic", help="Clinic slug")],
        user: Annotated[str, typer.Option("--user", help="Your username (recorded in the audit trail)")],
        types: Annotated[
            str, typer.Option("--type", help="Resource types, comma-separated (default: all)")
        ] = "",
        since: Annotated[
            str, typer.Option("--since", help="Only resources recorded at or after this instant")
        ] = "",
        out: Annotated[
            Path | None, typer.Option("--out", help="Copy the NDJSON files into this folder")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """FHIR Bulk Data export of a clinic: one NDJSON file per resource type."""
        import datetime as dt

        _setup()
        from ketaclinic.web.accounts.roles import Perm
        from ketaclinic.web.outcomes.actions import do_create_export_job
        from ketaclinic.web.outcomes.exports import FHIR_TYPES
        from ketaclinic.web.outcomes.models import ExportJob

        wanted = [t.strip() for t in types.split(",") if t.strip()]
        bad = [t for t in wanted if t not in FHIR_TYPES]
        if bad:
            fail(f"type: unsupported {', '.join(bad)}; supported: {', '.join(FHIR_TYPES)}")
        since_at = None
        if since:
            try:
                since_at = dt.datetime.fromisoformat(since)
            except ValueError:
                fail(f"since: not an ISO-8601 instant: {since!r}")
            if since_at.tzinfo is None:
                fail("since: must include a timezone offset (e.g. Z)")
        c, u = _clinic_and_user(clinic, user, (Perm.PATIENT_VIEW, Perm.OUTCOMES_VIEW))
        job = do_create_export_job(
            actor=u,
            clinic=c,
            kind=ExportJob.Kind.FHIR_BULK,
            params={"types": wanted or list(FHIR_TYPES), "since": since_at.isoformat() if since_at else None},
            request_url="ketaclinic export-fhir",
        )
        _run(job, out, as_json, "Exporting patients")

    @app.command("export-research")
    def export_research(
        clinic: Annotated[str, typer.Option("--clinic", help="Clinic slug")],
        user: Annotated[str, typer.Option("--user", help="Your username (recorded in the audit trail)")],
        out: Annotated[Path | None, typer.Option("--out", help="Copy the files into this folder")] = None,
        fmt: Annotated[
            str,
            typer.Option("--format", help="csv (default) or parquet (needs pyarrow: ketaclinic[parquet])"),
        ] = "csv",
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """De-identified research extract (CSV or Parquet, and the data dictionary) of a clinic."""
        if fmt not in ("csv", "parquet"):
            fail(f"--format: must be csv or parquet, not {fmt!r}")
        if fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                fail("--format: parquet needs pyarrow; install it with pip install 'ketaclinic[parquet]'")
        _setup()
        from ketaclinic.web.accounts.roles import Perm
        from ketaclinic.web.outcomes.actions import do_create_export_job
        from ketaclinic.web.outcomes.models import ExportJob

        c, u = _clinic_and_user(clinic, user, (Perm.RESEARCH_VIEW,))
        job = do_create_export_job(
            actor=u,
            clinic=c,
            kind=ExportJob.Kind.RESEARCH,
            params={"format": fmt},
            request_url="ketaclinic export-research",
        )
        _run(job, out, as_json, "Writing courses")

    @app.command("outcomes-recompute")
    def outcomes_recompute(
        clinic: Annotated[str, typer.Option("--clinic", help="Only this clinic (slug)")] = "",
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """Recompute each clinic's cohort figures and store them (run nightly, e.g. from cron)."""
        _setup()
        from ketaclinic.web.clinics.models import Clinic
        from ketaclinic.web.outcomes.actions import do_recompute_cohort_snapshots

        clinics = list(Clinic.objects.order_by("slug"))
        if clinic:
            clinics = [c for c in clinics if c.slug == clinic]
            if not clinics:
                fail(f"clinic: no clinic with slug {clinic!r}")
        result: dict[str, Any] = {}
        for c in clinics:
            snaps = do_recompute_cohort_snapshots(clinic=c)
            result[c.slug] = {
                s.instrument_id: {"n": s.figures["n"], "evaluable": s.figures["evaluable"]} for s in snaps
            }
        if as_json:
            emit_json({"clinics": result})
            return
        for slug, figs in result.items():
            typer.echo(f"{slug}: " + (json.dumps(figs) if figs else "no scores yet"))
