"""The `ketaclinic` command: one Typer app whose command modules are imported only when a command needs them.

Each area keeps its commands in its own module under `ketaclinic/cli/` with a `register(app)` function.
`COMMANDS` below lists, one line per module, the module and the names of the commands it registers. A module is
imported (and its commands built) only when one of its commands runs or a help page lists it, so
`ketaclinic version` or `ketaclinic score` do not pay for Django, numpy or the FHIR models.

Adding a command module is one line: `("mymodule", ("my-command", "my-other-command")),`.
tests/cli/test_cli_registry.py checks that every line names exactly the commands its module registers.

`main()` first offers the command line to `_fast` (`version`, `--version` and `score … --json`, the commands
scripts call in loops): those run without importing Typer at all, with the same output and exit codes; any
other command line, help and every unusual form go to the Typer app (`_app.py`, imported on first use).
"""

from __future__ import annotations

import sys
from typing import Any

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


def __getattr__(name: str) -> Any:
    """`ketaclinic.cli.app`: the Typer app, built on first use."""
    if name == "app":
        from ketaclinic.cli._app import app

        return app
    raise AttributeError(name)


def main() -> None:
    from ketaclinic.cli._fast import run_fast

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from ketaclinic.cli._app import app

    app()
