"""Browser suite: the real server (uvicorn, ASGI + WebSockets) on demo data, driven by Playwright on Debian's Chromium.

Runs only with KETACLINIC_TEST_BROWSER=1. Never downloads a browser: KETACLINIC_CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_home import copy_of_seeded_demo

CHROMIUM = os.environ.get("KETACLINIC_CHROMIUM", "/usr/bin/chromium")
DEMO_PASSWORD = "ketaclinic-demo-2026"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(home: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "KETACLINIC_TEST_POSTGRES", "KETACLINIC_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update({"KETACLINIC_HOME": home, "KETACLINIC_TESTING": "1", "PYTHONUNBUFFERED": "1"})
    return env


def run_in_server_env(home: str, code: str) -> str:
    """Run Python `code` with Django set up against the live server's database; returns stdout."""
    script = "from ketaclinic.web.config.bootstrap import setup_django; setup_django()\n" + code
    out = subprocess.run(
        [sys.executable, "-c", script], env=_server_env(home), capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


@pytest.fixture(scope="session")
def live_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A private copy of the demo installation seeded once per test run (tests/demo_home.py).
    yield str(copy_of_seeded_demo(tmp_path_factory, tmp_path_factory.mktemp("browser") / "home"))


@pytest.fixture(scope="session")
def live_url(live_home: str) -> Iterator[str]:
    port = _free_port()
    log = Path(live_home) / "server.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.cli.__main__", "serve", "--dev", "--port", str(port)],
            env=_server_env(live_home),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded CI machine can take a minute or more to migrate and start
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + log.read_text())
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"skipped: Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def login(page: Any, live_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(live_url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/accounts/login/" not in u)
