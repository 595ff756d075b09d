"""Read-only commands on a data directory without a database exit 2 and create nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow

READ_ONLY = [
    ["ledger", "verify"],
    ["ledger", "verify", "--json"],
    ["ledger", "register", "--site", "1", "--product", "1", "--from", "2026-01-01", "--to", "2026-01-31"],
]


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "KETACLINIC_TEST_POSTGRES", "DJANGO_SETTINGS_MODULE"}
    }
    env["KETACLINIC_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args", READ_ONLY, ids=[" ".join(a[:2]) + (" json" if "--json" in a else "") for a in READ_ONLY]
)
@pytest.mark.parametrize("exists", [False, True], ids=["missing directory", "empty directory"])
def test_read_only_command_on_an_uninitialised_data_directory(
    args: list[str], exists: bool, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    if exists:
        home.mkdir()
    out = run(args, home)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        f"error: KETACLINIC_HOME: no ketaclinic database in {home}; "
        "run `ketaclinic migrate` (or `ketaclinic demo`) first, or set DATABASE_URL\n"
    )
    if exists:
        assert list(home.iterdir()) == []  # no secret, no database file
    else:
        assert not home.exists()
