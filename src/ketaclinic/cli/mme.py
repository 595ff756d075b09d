"""CLI: `ketaclinic mme MEDICATIONS.json --json`: opioid load in MME/day by the CDC 2022 factors (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file


def register(app: typer.Typer) -> None:
    """Add the `mme` command."""

    @app.command("mme")
    def mme_cmd(
        medications: Annotated[
            Path,
            typer.Argument(
                help='MEDICATIONS.json: {"medications": [{"name"|"rxcui", "route", "dose", "unit", '
                '"doses_per_day"}], "benzodiazepine"?, "overdose_history"?}'
            ),
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    ) -> None:
        """Opioid load in morphine milligram equivalents per day, with warnings and the naloxone prompt.

        Example input: examples/mme-medications.json
        """
        from ketaclinic.core.pain.mme import MmeInputError, format_number, mme_for

        data = read_json_file(medications, what="MEDICATIONS")
        try:
            result = mme_for(data)
        except MmeInputError as exc:
            fail(f"{exc.field}: {exc.reason}")
        if as_json:
            emit_json(result.to_dict())
            return
        bound = "" if result.complete else " (at least: not every medication converts)"
        lines = [
            f"Opioid load: {format_number(result.total_mme_per_day)} MME/day{bound} [factors {result.version}]"
        ]
        for i in result.items:
            if i.mme_per_day is None or i.factor is None:
                lines.append(
                    f"  {i.name} ({i.route}): {format_number(i.daily_dose)} {i.daily_unit}, not converted"
                )
            else:
                lines.append(
                    f"  {i.name} ({i.route}): {format_number(i.daily_dose)} {i.daily_unit} x "
                    f"{format_number(i.factor)} = {format_number(i.mme_per_day)} MME/day"
                )
        for f in result.findings:
            lines.append(f"[{f.level}] {f.code}: {f.message} ({f.source})")
        typer.echo("\n".join(lines))
