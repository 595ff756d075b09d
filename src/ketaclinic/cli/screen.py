"""`ketaclinic screen BUNDLE.json`: eligibility screening of a FHIR R4 intake bundle (docs/cli.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file

_ROUTES = ("iv", "intranasal", "im", "oral")


def register(app: typer.Typer) -> None:
    """Add `screen` to `app`."""

    @app.command("screen")
    def screen_cmd(
        bundle: Annotated[
            Path, typer.Argument(help="FHIR R4 Bundle (JSON) with one Patient and intake resources.")
        ],
        route: Annotated[
            str, typer.Option("--route", help="iv | intranasal | im | oral (default iv).")
        ] = "iv",
        on: Annotated[
            str | None, typer.Option("--on", help="Screening date YYYY-MM-DD (default: today).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    ) -> None:
        """Screen a patient's intake bundle for contraindications: eligible, needs_review or ineligible.

        BUNDLE: a FHIR R4 Bundle with one Patient and the intake's Condition, Observation (blood pressure,
        heart rate, weight), MedicationStatement and AllergyIntolerance resources.

        Example input: examples/screen-intake-bundle.json
        """
        from datetime import UTC, datetime

        from ketaclinic.core.fhir.intake import BundleError
        from ketaclinic.core.screening import screen_bundle

        if route not in _ROUTES:
            fail(f"--route: {route!r} is not one of {', '.join(_ROUTES)}")
        if on is None:
            on_date = datetime.now(tz=UTC).date()
        else:
            try:
                on_date = date.fromisoformat(on)
            except ValueError:
                fail(f"--on: {on!r} is not a date in the form YYYY-MM-DD")
            if len(on) != 10:
                fail(f"--on: {on!r} is not a date in the form YYYY-MM-DD")
        data = read_json_file(bundle, what="BUNDLE")
        try:
            result = screen_bundle(data, on=on_date, route=route)  # type: ignore[arg-type]
        except BundleError as exc:
            fail(f"BUNDLE {bundle}: malformed intake bundle: " + "; ".join(str(i) for i in exc.issues))
        if as_json:
            emit_json(result.to_contract())
            return
        typer.echo(
            f"decision: {result.decision}  (rule set {result.ruleset_version}, {on_date.isoformat()}, route {route})"
        )
        for f in result.findings:
            typer.echo(f"  [{f.level}] {f.code}: {f.message}")
            if f.evidence:
                typer.echo(f"      evidence: {', '.join(f.evidence)}")
            typer.echo(f"      source: {f.source}")
