"""`ketaclinic outcomes COHORT.json --json`: cohort response, remission and time to response (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f} %"


def register(app: typer.Typer) -> None:
    """Add `outcomes` to `app`."""

    @app.command("outcomes")
    def outcomes(
        cohort: Annotated[
            Path, typer.Argument(help="COHORT.json: instrument and each patient's first dose and scores")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """Cohort outcomes: evaluable patients, response and remission rates with Wilson 95 % intervals,
        and the Kaplan-Meier median time to first response.

        Example input: examples/outcomes-cohort.json
        """
        from ketaclinic.core.outcomes import CohortError, analyse_cohort, parse_cohort

        data = read_json_file(cohort, what="COHORT")
        try:
            parsed = parse_cohort(data)
        except CohortError as exc:
            fail(f"{exc.field}: {exc.reason}")
        result = analyse_cohort(parsed)
        if as_json:
            emit_json(result.to_dict())
            return
        typer.echo(f"instrument: {parsed.instrument_id}")
        typer.echo(f"patients: {result.n}, evaluable: {result.evaluable}")
        for label, prop in (
            ("response (any time)", result.response),
            ("response (latest score)", result.response_last),
            ("remission (any time)", result.remission),
            ("remission (latest score)", result.remission_last),
        ):
            if prop is None:
                typer.echo(f"{label}: not defined for this instrument")
                continue
            ci = "" if prop.ci95 is None else f" (95 % CI {_pct(prop.ci95[0])} to {_pct(prop.ci95[1])})"
            typer.echo(f"{label}: {prop.n} of {prop.of}, {_pct(prop.rate)}{ci}")
        med = result.median_days_to_response
        typer.echo(f"median days to first response: {'not reached' if med is None else f'{med:.2f}'}")
