"""Every file in examples/ runs through its command, and that command's --help points to it.

Naming convention: examples/<command words joined by ->-<label>.json (e.g. pk-simulate-esketamine-84mg.json,
mme-medications.json). Extra arguments, if the command needs any, go in a file with the same name ending in
.args instead of .json. Nothing else to register: a new example is picked up by this test.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from ketaclinic.cli import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
runner = CliRunner()


def command_paths() -> list[list[str]]:
    """Every command as its words: top-level commands and the sub-commands of groups."""
    root = get_command(app)
    ctx = typer.Context(root)
    paths = []
    for _module, names in COMMANDS:
        for name in names:
            cmd = root.get_command(ctx, name)  # type: ignore[attr-defined]
            subs = getattr(cmd, "commands", None)
            paths.extend([[name, sub] for sub in subs] if subs else [[name]])
    return paths


def command_for(example: Path) -> list[str]:
    matches = [p for p in command_paths() if example.name.startswith("-".join(p) + "-")]
    assert matches, f"{example.name}: no command matches the start of the file name"
    return max(matches, key=lambda p: len("-".join(p)))


def test_there_are_examples_for_the_core_contracts() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "screen-intake-bundle.json",
        "dose-check-iv-third-infusion.json",
        "pk-simulate-esketamine-84mg.json",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_prints_one_json_object(example: Path) -> None:
    extra = example.with_suffix(".args")
    args = shlex.split(extra.read_text(encoding="utf-8")) if extra.exists() else []
    res = runner.invoke(app, [*command_for(example), str(example), *args, "--json"])
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.count("\n") == 1
    assert isinstance(json.loads(res.stdout), dict)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_help_points_to_the_example(example: Path) -> None:
    res = runner.invoke(app, [*command_for(example), "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert f"examples/{example.name}" in res.stdout
