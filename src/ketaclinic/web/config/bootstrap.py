"""Locate the data directory and start Django outside manage.py (CLI commands, scripts)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_data_dir

SETTINGS_MODULE = "ketaclinic.web.config.settings"


DATABASE_FILE = "ketaclinic.sqlite3"


def data_home(*, create: bool = True) -> Path:
    """The data directory: $KETACLINIC_HOME, else a per-user data folder. Created on first use unless `create`
    is false (read-only commands must not create anything)."""
    raw = os.environ.get("KETACLINIC_HOME")
    path = Path(raw).expanduser() if raw else Path(user_data_dir("ketaclinic", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_database_missing() -> Path | None:
    """The data directory when the embedded database is in use and does not exist yet, else None."""
    flag = os.environ.get("KETACLINIC_TEST_POSTGRES", "").strip().lower()
    test_postgres = flag in {"1", "true", "yes", "on"}
    if os.environ.get("DATABASE_URL") or test_postgres:
        return None
    home = data_home(create=False)
    return None if (home / DATABASE_FILE).is_file() else home


def local_secret_key() -> str:
    """A per-installation secret for the embedded (non-production) mode, generated once and kept in the data dir."""
    key_file = data_home() / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


def setup_django() -> None:
    """Configure and initialise Django once (idempotent)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
