"""`ketaclinic ledger`: verify the controlled-substance ledger's hash chain (docs/cli.md), print registers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.cli._common import emit_json, fail, setup_django_for_reading

EXIT_TAMPERED = 1

ledger_app = typer.Typer(
    name="ledger",
    help="Controlled-substance ledger: verify the hash chain, print registers.",
    no_args_is_help=True,
)


@ledger_app.command("verify")
def verify_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recompute the hash chain: exit 0 when intact, 1 naming the first altered, removed or reordered entry."""
    setup_django_for_reading()
    from django.db import DatabaseError

    from ketaclinic.web.ledger.selectors import chain_verify

    try:
        result = chain_verify()
    except DatabaseError as exc:
        fail(f"database: cannot read the ledger ({exc}); run `ketaclinic migrate` first?")
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        head = result.head
        typer.echo(
            f"ledger intact: {result.checked} entries"
            + ("" if head is None else f", head #{head.seq} {head.hash}")
        )
    else:
        assert result.first_bad is not None
        bad = result.first_bad
        typer.echo(
            f"ledger tampered: entry {bad.seq} ({bad.problem.value}): {bad.message}"
            + (f" [row id {bad.ref}]" if bad.ref else ""),
            err=True,
        )
    if not result.ok:
        raise typer.Exit(EXIT_TAMPERED)


def _date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{field}: {value!r} is not a date (YYYY-MM-DD)")


@ledger_app.command("register")
def register_command(
    site: Annotated[int, typer.Option("--site", help="Site id.")],
    product: Annotated[int, typer.Option("--product", help="Product id.")],
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD), site time zone.")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD), inclusive.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or pdf")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (required for pdf).")] = None,
) -> None:
    """Print the register of one drug/form/strength at a site, in the site's jurisdiction's format."""
    first, last = _date(start, "--from"), _date(end, "--to")
    assert first is not None and last is not None
    if last < first:
        fail("--to: must not be before --from")
    if fmt not in ("csv", "pdf"):
        fail("--format: must be csv or pdf")
    if fmt == "pdf" and out is None:
        fail("--out: a PDF must be written to a file")
    setup_django_for_reading()
    from ketaclinic.web.clinics.models import Site
    from ketaclinic.web.ledger.models import Product
    from ketaclinic.web.ledger.reports import register_csv_bytes, register_pdf
    from ketaclinic.web.ledger.selectors import _tz, register_for

    site_obj = Site.objects.select_related("clinic").filter(pk=site).first()
    if site_obj is None:
        fail(f"--site: no site with id {site}")
    product_obj = Product.objects.filter(pk=product, clinic_id=site_obj.clinic_id).first()
    if product_obj is None:
        fail(f"--product: no product with id {product} in {site_obj.clinic.name}")
    tz = _tz(site_obj)
    reg = register_for(
        site=site_obj,
        product=product_obj,
        start=dt.datetime.combine(first, dt.time(0), tzinfo=tz),
        end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz),
    )
    data = register_pdf(reg, site=site_obj) if fmt == "pdf" else register_csv_bytes(reg)
    if out is None:
        typer.echo(data.decode("utf-8"), nl=False)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out} ({len(reg.rows)} entries)")


def register(app: typer.Typer) -> None:
    """Add the `ledger` sub-app."""
    app.add_typer(ledger_app, name="ledger")
