"""The `ketaclinic` Typer app: the lazy command group over `COMMANDS`, the root options and `version`."""

from __future__ import annotations

import typer

import ketaclinic
from ketaclinic.cli import COMMANDS
from ketaclinic.cli._lazy import LazyGroup


class _Commands(LazyGroup):
    lazy_commands = COMMANDS


def _print_version(value: bool) -> None:
    if value:
        typer.echo(ketaclinic.__version__)
        raise typer.Exit(0)


app = typer.Typer(
    name="ketaclinic",
    cls=_Commands,
    help="ketaclinic: supervised ketamine therapy, safely and measurably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: flags are shown as flags (the rich layout labels them <bool>), and rich is not imported.
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
    ),
) -> None:
    """ketaclinic: supervised ketamine therapy, safely and measurably."""


@app.command("version")
def version_cmd() -> None:
    """Print the ketaclinic version."""
    typer.echo(ketaclinic.__version__)
