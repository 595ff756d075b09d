"""`ketaclinic dose-check REQUEST.json --json` and `ketaclinic protocols --json` (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file


def _protocol_summary(p: Any) -> dict[str, Any]:
    raw = dict(p.raw)
    return {
        "id": p.id,
        "name": p.name,
        "version": p.version,
        "drug": p.drug,
        "routes": list(p.routes),
        "indication": p.indication,
        "dose_basis": p.dose.basis,
        "default_dose": p.dose.default.value,
        "default_dose_unit": "mg/kg" if p.weight_based else "mg",
        "definition": raw,
    }


def register(app: typer.Typer) -> None:
    """Add `dose-check` and `protocols` to `app`."""

    @app.command("dose-check")
    def dose_check(
        request: Annotated[
            Path, typer.Argument(help="REQUEST.json: patient, protocol, history, proposed dose")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object")] = False,
    ) -> None:
        """Check a proposed dose against its protocol and the patient's dose history.

        REQUEST: {"patient": {"weight_kg", "birth_date"?}, "protocol": ID (see `ketaclinic protocols`),
        "history": [DOSE, ...], "proposed": DOSE}; DOSE: {"time", "drug", "route", "dose_mg", "duration_min"?}.

        Example input: examples/dose-check-iv-third-infusion.json
        """
        from ketaclinic.core.protocols import DoseRequestError, check_dose, get_protocol, parse_dose_request
        from ketaclinic.core.protocols.model import protocol_ids

        data = read_json_file(request, what="REQUEST")
        try:
            req = parse_dose_request(data)
        except DoseRequestError as exc:
            fail(f"{exc.field}: {exc.reason}")
        try:
            protocol = get_protocol(req.protocol_id)
        except KeyError:
            fail(f"protocol: unknown protocol {req.protocol_id!r}; known: {', '.join(protocol_ids())}")
        try:
            result = check_dose(req, protocol)
        except DoseRequestError as exc:
            fail(f"{exc.field}: {exc.reason}")
        if as_json:
            emit_json(result.to_dict())
            return
        typer.echo(f"decision: {result.decision}")
        for f in result.findings:
            typer.echo(f"  [{f.level}] {f.code}: {f.message}")

    @app.command("protocols")
    def protocols(
        as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object"),
    ) -> None:
        """List the protocol library with limits and sources."""
        from ketaclinic.core.protocols import load_protocols

        items = [_protocol_summary(p) for p in load_protocols()]
        if as_json:
            emit_json({"protocols": items})
            return
        for it in items:
            typer.echo(f"{it['id']}: {it['name']} ({it['drug']}, {'/'.join(it['routes'])})")
