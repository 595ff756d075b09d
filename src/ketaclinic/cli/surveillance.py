"""`ketaclinic surveillance HISTORY.json [--on YYYY-MM-DD] [--overrides FILE] --json`: long-term safety surveillance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file


def register(app: typer.Typer) -> None:
    """Add `surveillance`."""

    @app.command("surveillance")
    def surveillance(
        history: Annotated[
            Path,
            typer.Argument(help="HISTORY.json: patient weight, doses, assessments, observations, course end"),
        ],
        on: Annotated[
            str | None, typer.Option("--on", help="The day to evaluate, YYYY-MM-DD (UTC; default today)")
        ] = None,
        overrides: Annotated[
            Path | None,
            typer.Option(
                "--overrides", help="A clinic's overrides of the shipped schedule and thresholds (JSON)"
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """Exposure, screens due or overdue, and safety alerts for one patient on a day.

        Example input: examples/surveillance-history.json
        """
        from ketaclinic.core.surveillance import (
            HistoryError,
            SettingsError,
            apply_overrides,
            default_settings,
            parse_history,
            surveil,
        )

        if on is None:
            day = datetime.now(UTC).date()
        else:
            try:
                day = date.fromisoformat(on)
            except ValueError:
                fail(f"--on: {on!r} is not a YYYY-MM-DD date")
        settings = default_settings()
        if overrides is not None:
            try:
                settings = apply_overrides(read_json_file(overrides, what="--overrides"))
            except SettingsError as exc:
                fail(f"--overrides {exc.field}: {exc.reason}")
        data = read_json_file(history, what="HISTORY")
        try:
            parsed = parse_history(data)
        except HistoryError as exc:
            fail(f"{exc.field}: {exc.reason}")
        result = surveil(parsed, day, settings)
        if as_json:
            emit_json(result.to_dict())
            return
        e = result.exposure
        typer.echo(
            f"on {result.on.isoformat()}: {e.sessions} sessions, {e.total_mg:g} mg "
            f"({e.total_mg_per_kg:.2f} mg/kg); {'on treatment' if result.on_treatment else 'not on treatment'}"
        )
        for f in result.findings:
            typer.echo(f"  [{f.level}] {f.code}: {f.message}")
        if not result.findings:
            typer.echo("  nothing due, overdue or alerting")
