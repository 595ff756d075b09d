"""The `ketaclinic` command: one Typer app; each area registers its commands from its own module."""

from __future__ import annotations

import typer

from ketaclinic.cli import (
    devices,
    dosecheck,
    ledger,
    outcomes,
    pk,
    schedules,
    score,
    screen,
    server,
    telehealth,
)

app = typer.Typer(
    name="ketaclinic",
    help="ketaclinic: supervised ketamine therapy, safely and measurably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """ketaclinic: supervised ketamine therapy, safely and measurably."""


for _module in (server, score, screen, dosecheck, pk, ledger, devices, schedules, telehealth, outcomes):
    _module.register(app)


def main() -> None:
    app()
