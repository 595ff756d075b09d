"""The `ketaclinic` command: one Typer app whose command modules are imported only when a command needs them.

Each area keeps its commands in its own module under `ketaclinic/cli/` with a `register(app)` function.
`COMMANDS` below lists, one line per module, the module and the names of the commands it registers. A module is
imported (and its commands built) only when one of its commands runs or a help page lists it, so
`ketaclinic version` or `ketaclinic score` do not pay for Django, numpy or the FHIR models.

Adding a command module is one line: `("mymodule", ("my-command", "my-other-command")),`.
tests/cli/test_cli_registry.py checks that every line names exactly the commands its module registers.
"""

from __future__ import annotations

import typer

import ketaclinic
from ketaclinic.cli._lazy import LazyGroup

# (module under ketaclinic.cli, the command names its register(app) adds), in the order help lists them.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("demo", ("demo",)),
    ("server", ("serve", "migrate", "createclinic", "createuser", "createtoken", "manage")),
    ("score", ("score", "instruments")),
    ("screen", ("screen",)),
    ("dosecheck", ("dose-check", "protocols")),
    ("pk", ("pk",)),
    ("ledger", ("ledger",)),
    ("devices", ("simulate-devices",)),
    ("schedules", ("run-schedules",)),
    ("telehealth", ("telehealth",)),
    ("outcomes", ("outcomes",)),
    ("exports", ("export-fhir", "export-research", "outcomes-recompute")),
    ("surveillance", ("surveillance",)),
    ("mme", ("mme",)),
    ("staff", ("staff",)),
    ("audit", ("audit",)),
)


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


def main() -> None:
    app()
