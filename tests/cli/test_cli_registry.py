"""The CLI registry: every listed module registers exactly its listed commands, and commands import lazily."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.main import get_group
from typer.testing import CliRunner

import ketaclinic
from ketaclinic.cli import COMMANDS, app

CLI_DIR = Path(ketaclinic.__file__).parent / "cli"


@pytest.mark.parametrize(("module", "names"), COMMANDS, ids=[m for m, _ in COMMANDS])
def test_each_module_registers_exactly_its_listed_commands(module: str, names: tuple[str, ...]) -> None:
    sub = typer.Typer()
    importlib.import_module(f"ketaclinic.cli.{module}").register(sub)
    assert sorted(get_group(sub).commands) == sorted(names)


def test_every_command_module_is_listed() -> None:
    modules = {p.stem for p in CLI_DIR.glob("*.py") if not p.stem.startswith("_")}
    assert modules == {m for m, _ in COMMANDS}


def test_command_names_are_unique() -> None:
    names = [n for _, ns in COMMANDS for n in ns]
    assert len(names) == len(set(names))


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(app, ["--help"]).stdout
    for _, names in COMMANDS:
        for name in names:
            assert f"\n  {name} " in out


def test_version_flag_and_command() -> None:
    runner = CliRunner()
    flag, command = runner.invoke(app, ["--version"]), runner.invoke(app, ["version"])
    assert (flag.exit_code, flag.stdout) == (0, ketaclinic.__version__ + "\n")
    assert (command.exit_code, command.stdout) == (0, ketaclinic.__version__ + "\n")


def test_unknown_command_exits_2() -> None:
    res = CliRunner().invoke(app, ["no-such-command"])
    assert res.exit_code == 2 and "No such command 'no-such-command'" in res.stderr


def test_boolean_options_are_shown_as_flags() -> None:
    out = CliRunner().invoke(app, ["pk", "simulate", "--help"], terminal_width=200).stdout
    json_line = next(line for line in out.splitlines() if line.strip().startswith("--json"))
    assert "<bool>" not in json_line and "bool" not in json_line


HEAVY = ("django", "numpy", "fhir", "pydantic_core.core_schema", "ketaclinic.web", "uvicorn", "scipy")


def imported_modules(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after running `ketaclinic ARGS`."""
    code = (
        "import json, sys\n"
        f"sys.argv = ['ketaclinic', *{list(args)!r}]\n"
        "from ketaclinic.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stderr))


def test_version_imports_no_command_module_and_nothing_heavy() -> None:
    mods = imported_modules("version")
    assert {m for m in mods if m.startswith("ketaclinic.")} == {"ketaclinic.cli", "ketaclinic.cli._fast"}
    assert not {m for m in mods if m.startswith((*HEAVY, "typer", "yaml"))}


def test_score_json_imports_neither_typer_nor_a_command_module() -> None:
    mods = imported_modules("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,0", "--json")
    assert {m for m in mods if m.startswith("ketaclinic.cli")} == {"ketaclinic.cli", "ketaclinic.cli._fast"}
    assert not {m for m in mods if m.startswith((*HEAVY, "typer", "click"))}
    assert "yaml" not in mods  # the instrument definition came from the precompiled copy


def test_score_text_output_still_goes_through_its_own_module_without_a_framework() -> None:
    mods = imported_modules("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,0")
    cli_modules = {m for m in mods if m.startswith("ketaclinic.cli.")}
    assert cli_modules == {
        "ketaclinic.cli._app",
        "ketaclinic.cli._fast",
        "ketaclinic.cli._lazy",
        "ketaclinic.cli._common",
        "ketaclinic.cli.score",
    }
    assert not {m for m in mods if m.startswith(HEAVY)}


@pytest.mark.parametrize(
    "args",
    [
        ["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,0", "--json"],
        ["score", "--json", "gad7", "--answers=3,3,3,3,3,3,3"],
        ["score", "phq9", "--answers", "1,,1,1,1,1,1,1,0", "--allow-partial", "--json"],
        ["score", "phq99", "--answers", "1", "--json"],
        ["score", "phq9", "--answers", "1,1", "--json"],
        ["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,9", "--json"],
        ["version"],
        ["--version"],
    ],
)
def test_fast_path_matches_the_typer_command(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from typer.testing import CliRunner

    from ketaclinic.cli._fast import run_fast

    code = run_fast(list(args))
    fast = capsys.readouterr()
    slow = CliRunner().invoke(app, args)
    assert code == slow.exit_code
    assert fast.out == slow.stdout
    assert fast.err == slow.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,0"],  # text output
        ["score", "--help"],
        ["score", "phq9", "--answers", "1", "--answers", "2", "--json"],
        ["score", "phq9", "--json"],
        ["score", "phq9", "--answers", "1", "--json", "--verbose"],
        ["instruments"],
        [],
    ],
)
def test_other_command_lines_are_left_to_typer(args: list[str]) -> None:
    from ketaclinic.cli._fast import run_fast

    assert run_fast(list(args)) is None
