"""`ketaclinic telehealth VISIT.json`: what a visit may do under the patient's jurisdiction's telehealth rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file


def register(app: typer.Typer) -> None:
    """Add `telehealth` to `app`."""

    @app.command("telehealth")
    def telehealth_cmd(
        visit: Annotated[
            Path, typer.Argument(help="Visit (JSON): on, modality, jurisdiction, activity, ...")
        ],
        policy: Annotated[
            Path | None, typer.Option("--policy", help="Clinic policy (JSON) that tightens the rules.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    ) -> None:
        """Decide whether a visit is allowed, needs review or is not allowed, with each rule and its source."""
        from ketaclinic.core.telehealth import VisitError, evaluate, parse_policy, parse_visit

        data = read_json_file(visit, what="VISIT")
        try:
            parsed = parse_visit(data)
        except VisitError as exc:
            fail(f"VISIT {visit}: {exc}")
        pol_data = read_json_file(policy, what="--policy") if policy is not None else None
        try:
            pol = parse_policy(pol_data)
        except VisitError as exc:
            fail(f"--policy {policy}: {exc}")
        result = evaluate(parsed, policy=pol)
        if as_json:
            emit_json(result.to_contract())
            return
        typer.echo(f"decision: {result.decision}  (rules {result.ruleset_version})")
        for f in result.findings:
            typer.echo(f"  [{f.level}] {f.code}: {f.message}")
            typer.echo(f"      source: {f.source}")
