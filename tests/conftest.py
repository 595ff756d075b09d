"""Test-wide setup: an isolated data directory, fast password hashing, and skips for optional services."""

from __future__ import annotations

import os
import tempfile

import pytest

# Must happen before Django settings load (pytest-django imports them after conftest).
os.environ.setdefault("KETACLINIC_HOME", tempfile.mkdtemp(prefix="ketaclinic-test-"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker gets its own data directory (generated secret, media) under the one given.
    _home = os.path.join(os.environ["KETACLINIC_HOME"], os.environ["PYTEST_XDIST_WORKER"])
    os.makedirs(_home, exist_ok=True)
    os.environ["KETACLINIC_HOME"] = _home
os.environ.setdefault("KETACLINIC_TESTING", "1")
os.environ.pop("KETACLINIC_ENV", None)

SERVICE_FLAGS = {
    "postgres": (
        "KETACLINIC_TEST_POSTGRES",
        "PostgreSQL suite: set KETACLINIC_TEST_POSTGRES=1 (server at 127.0.0.1:5432)",
    ),
    "redis": ("KETACLINIC_TEST_REDIS", "Redis suite: set KETACLINIC_TEST_REDIS=1 (server at 127.0.0.1:6379)"),
    "browser": (
        "KETACLINIC_TEST_BROWSER",
        "browser suite: set KETACLINIC_TEST_BROWSER=1 (needs /usr/bin/chromium)",
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    in_worker = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    for item in items:
        for marker, (env, reason) in SERVICE_FLAGS.items():
            if marker in item.keywords and not os.environ.get(env):
                item.add_marker(pytest.mark.skip(reason=f"skipped: {reason}"))
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.slow)
        if in_worker and "serial" in item.keywords:
            # e.g. the PostgreSQL restart test: other workers' tests would fail while the server restarts.
            item.add_marker(pytest.mark.skip(reason="skipped: must run alone, run it with -n 0"))
