"""Guards of the CI script: the PostgreSQL restart test runs only when asked with exactly `1`, and a pytest step
that collects no tests fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RESTART_TEST = "tests/web/monitoring/test_monitoring_pg_restart.py"


def run_restart_test(value: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    # PostgreSQL suite switched on, but no DATABASE_URL: even a wrongly selected test could not reach a server.
    env |= {
        "KETACLINIC_TEST_POSTGRES": "1",
        "KETACLINIC_TEST_PG_RESTART": value,
        "KETACLINIC_HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", "-n", "0", RESTART_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("value", ["0", "true"])
def test_restart_test_is_skipped_unless_the_variable_is_exactly_1(value: str, tmp_path: Path) -> None:
    out = run_restart_test(value, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 skipped" in out.stdout
    assert "KETACLINIC_TEST_PG_RESTART=1" in out.stdout  # the skip reason says how to opt in


def test_ci_script_runs_the_restart_test_only_on_ci_or_when_asked() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    start = script.index("pg_restart_default() {")
    decide = script[start : script.index("\n}\n", start) + 3]

    def default(env: dict[str, str]) -> str:
        code = f"{decide}\npg_restart_default"
        return subprocess.run(
            ["bash", "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert default({"CI": "true"}) == "1"
    assert default({}) == "0"
    assert default({"CI": "false"}) == "0"


def test_ci_pytest_step_fails_when_no_test_is_collected(tmp_path: Path) -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    start = script.index("run_pytest() {")
    func = script[start : script.index("\n}\n", start) + 3]
    (tmp_path / "test_nothing.py").write_text("# no tests here\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    out = subprocess.run(
        [
            "bash",
            "-c",
            f"set -euo pipefail\n{func}\nrun_pytest -q -p no:cacheprovider {tmp_path}\necho after",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 5
    assert "collected no tests" in out.stderr and "after" not in out.stdout
    # every pytest step of the script goes through run_pytest
    assert "python -m pytest" not in script.replace(func, "")
