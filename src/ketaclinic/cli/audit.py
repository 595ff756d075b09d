"""`ketaclinic audit verify`: seal pending audit events into the hash chain and verify the whole chain."""

from __future__ import annotations

from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail

EXIT_TAMPERED = 1

audit_app = typer.Typer(name="audit", help="Audit trail: verify its hash chain.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Exit 0 when the audit trail is intact, 1 naming the first altered or deleted event (or missing trigger)."""
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()
    from django.db import DatabaseError

    from ketaclinic.web.audit.chain import audit_verify

    try:
        result = audit_verify()
    except DatabaseError as exc:
        fail(f"database: cannot read the audit trail ({exc}); run `ketaclinic migrate` first?")
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        typer.echo(f"audit trail intact: {result.checked} events, head #{result.head_seq} {result.head_hash}")
    else:
        assert result.first_bad is not None
        bad = result.first_bad
        typer.echo(f"audit trail tampered: link {bad.seq} ({bad.problem.value}): {bad.message}", err=True)
    if not result.ok:
        raise typer.Exit(EXIT_TAMPERED)


def register(app: typer.Typer) -> None:
    """Add the `audit` sub-app."""
    app.add_typer(audit_app, name="audit")
