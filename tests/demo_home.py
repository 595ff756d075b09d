"""One seeded demo data directory per test run, shared by every test (and xdist worker) that needs one.

The first caller runs `ketaclinic demo --no-serve` into a directory next to pytest's base temporary directory
(shared by all workers of a run) under a file lock; every caller then gets its own copy, so tests can change it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def demo_env(home: Path | str, **extra: str) -> dict[str, str]:
    """The caller's environment without database or production settings, pointed at `home`."""
    dropped = {
        "DATABASE_URL",
        "KETACLINIC_TEST_POSTGRES",
        "KETACLINIC_ENV",
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
    }
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return env | {"KETACLINIC_HOME": str(home), "KETACLINIC_TESTING": "1", **extra}


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    base = factory.getbasetemp()
    # Under xdist each worker's base is <run>/popen-gwN; the run's directory is shared by all workers.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def seeded_template(factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shared seeded data directory and the output of the `demo --no-serve` run that seeded it."""
    root = _shared_root(factory)
    template, output = root / "demo-template", root / "demo-template.out"
    with (root / "demo-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not output.exists():
            shutil.rmtree(template, ignore_errors=True)
            template.mkdir()
            out = subprocess.run(
                [sys.executable, "-m", "ketaclinic.cli", "demo", "--no-serve"],
                env=demo_env(template),
                capture_output=True,
                text=True,
                timeout=600,
            )
            if out.returncode != 0:
                raise RuntimeError(f"seeding the demo failed:\n{out.stdout}\n{out.stderr}")
            output.write_text(out.stdout, encoding="utf-8")
    return template, output.read_text(encoding="utf-8")


def copy_of_seeded_demo(factory: pytest.TempPathFactory, dest: Path) -> Path:
    """A private copy of the seeded demo data directory at `dest`."""
    template, _ = seeded_template(factory)
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("*.log"))
    return dest
