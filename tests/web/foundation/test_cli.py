"""The `ketaclinic` command: version, demo seeding (once, then reused), production refusals, deploy checks."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from tests.demo_home import copy_of_seeded_demo, seeded_template

import ketaclinic

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


def base_env(home: Path, **env: str) -> dict[str, str]:
    """The caller's environment without database or production settings, pointed at `home`."""
    dropped = {
        "DATABASE_URL",
        "KETACLINIC_TEST_POSTGRES",
        "KETACLINIC_ENV",
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
    }
    return {k: v for k, v in os.environ.items() if k not in dropped} | {
        "KETACLINIC_HOME": str(home),
        "KETACLINIC_TESTING": "1",
        **env,
    }


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic.cli.__main__", *args],
        env=base_env(home, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_version(tmp_path: Path) -> None:
    out = run(["version"], tmp_path)
    assert (out.returncode, out.stdout.strip()) == (0, ketaclinic.__version__)


def test_demo_seeds_once_and_reuses_data(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    _template, first_stdout = seeded_template(tmp_path_factory)
    assert "sign in as one of" in first_stdout
    assert "  dr.patel           Dr Asha Patel          Prescriber\n" in first_stdout
    assert "  desk.lee           Robin Lee              Front desk\n" in first_stdout
    assert "front_desk" not in first_stdout and "clinic_admin" not in first_stdout  # words, not codes
    home = copy_of_seeded_demo(tmp_path_factory, tmp_path / "home")
    assert (home / "ketaclinic.sqlite3").exists()
    count = (
        "from ketaclinic.web.config.bootstrap import setup_django; setup_django()\n"
        "from ketaclinic.web.patients.models import Patient\nfrom ketaclinic.web.clinics.models import Site\n"
        "from ketaclinic.web.accounts.models import Membership\n"
        "print(Patient.objects.filter(clinic__slug='riverside-demo', is_synthetic=True).count(),"
        " Site.objects.filter(clinic__slug='riverside-demo').count(),"
        " sorted(set(Membership.objects.filter(clinic__slug='riverside-demo').values_list('role', flat=True))))"
    )
    env = base_env(home)
    before = subprocess.run(
        [sys.executable, "-c", count], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert (
        before.strip()
        == "50 2 ['auditor', 'clinic_admin', 'custodian', 'front_desk', 'nurse', 'prescriber', 'researcher', 'therapist']"
    )
    second = run(["demo", "--no-serve"], home)
    assert second.returncode == 0 and "Using the existing demo data" in second.stdout
    after = subprocess.run(
        [sys.executable, "-c", count], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert after == before


def test_demo_says_where_it_serves_and_serves(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    home = copy_of_seeded_demo(tmp_path_factory, tmp_path / "home")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ketaclinic.cli", "demo", "--port", str(port)],
        env=base_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while not lines[-1].startswith("Serving on") and lines[-1] and len(lines) < 40:
            lines.append(proc.stdout.readline())
        assert lines[0].startswith("Using the existing demo data in ")
        assert lines[-2:] == ["\n", f"Serving on http://127.0.0.1:{port} — Ctrl+C to stop\n"], lines
        # The port listens once the line is printed: the first request waits in the backlog and is answered,
        # never refused (no retry loop here).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_demo_on_a_busy_port_exits_2_before_creating_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run(["demo", "--port", str(port)], tmp_path)
    assert out.returncode == 2
    assert out.stderr == (
        f"error: --port: port {port} on 127.0.0.1 is already in use (another ketaclinic demo or server?); "
        "stop it or choose another port with --port\n"
    )
    assert out.stdout == "" and list(tmp_path.iterdir()) == []


def test_demo_refuses_an_external_database(tmp_path: Path) -> None:
    out = run(["demo", "--no-serve"], tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert out.returncode == 2 and "DATABASE_URL" in out.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY: set a unique random secret"),
        (
            {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "clinic.example", "DEBUG": "1"},
            "DEBUG: must be off in production",
        ),
        (
            {"SECRET_KEY": "short", "ALLOWED_HOSTS": "clinic.example"},
            "SECRET_KEY: set a unique random secret",
        ),
        # Long but keys `check --deploy` warns about (security.W009): too few distinct characters, insecure prefix.
        (
            {"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "clinic.example"},
            "SECRET_KEY: set a unique random secret",
        ),
        (
            {"SECRET_KEY": "django-insecure-" + "abcdefghij" * 5, "ALLOWED_HOSTS": "clinic.example"},
            "SECRET_KEY: set a unique random secret",
        ),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS: list the host names"),
    ],
)
def test_serve_refuses_unsafe_production_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    out = run(["serve", "--port", "1"], tmp_path, **env)
    assert out.returncode == 2
    assert message in out.stderr and "refusing to start in production mode" in out.stderr


def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    out = run(
        ["serve", "--workers", "2"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example",
    )
    assert out.returncode == 2 and "REDIS_URL" in out.stderr


def test_deploy_check_is_clean_in_production(tmp_path: Path) -> None:
    out = run(
        ["manage", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        KETACLINIC_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example",
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "no issues" in out.stdout


def test_createuser_rejects_unknown_role_and_weak_password(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    assert (
        run(
            ["createclinic", "acme", "--name", "Acme", "--site", "Main", "--jurisdiction", "UK"], tmp_path
        ).returncode
        == 0
    )

    def createuser(role: str, password: str) -> subprocess.CompletedProcess[str]:
        args = ["createuser", "bob", "--clinic", "acme", "--role", role, "--password-stdin"]
        return subprocess.run(
            [sys.executable, "-m", "ketaclinic.cli.__main__", *args],
            input=password + "\n",
            env=base_env(tmp_path),
            capture_output=True,
            text=True,
        )

    bad = createuser("wizard", "a-very-long-password-1")
    assert bad.returncode == 2 and "roles: unknown role 'wizard'" in bad.stderr
    weak = createuser("nurse", "123")
    assert weak.returncode == 2 and "password:" in weak.stderr
    ok = createuser("nurse", "a-very-long-password-1")
    assert ok.returncode == 0, ok.stderr
    assert "Created user bob with roles nurse in acme." in ok.stdout


def test_demo_use_database_url_needs_a_database_url(tmp_path: Path) -> None:
    out = run(["demo", "--no-serve", "--use-database-url"], tmp_path)
    assert out.returncode == 2
    assert "--use-database-url: set DATABASE_URL" in out.stderr
    assert not (tmp_path / "ketaclinic.sqlite3").exists()


def test_default_workers_follow_the_cpu_count() -> None:
    from ketaclinic.cli.server import default_workers

    assert [default_workers(n) for n in (1, 2, 8, 64)] == [1, 2, 8, 16]


def test_healthz_answers_over_plain_http_in_production_without_a_redirect(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    probe = (
        "from ketaclinic.web.config.bootstrap import setup_django; setup_django()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "print(c.get('/healthz', HTTP_HOST='clinic.example').status_code,"
        " c.get('/patients/', HTTP_HOST='clinic.example').status_code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=base_env(
            tmp_path,
            KETACLINIC_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="clinic.example",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["200", "301"]  # other pages still redirect to HTTPS
