"""Shared CLI plumbing: the contract's error shape (exit 2, message on stderr naming the field) and JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

EXIT_BAD_INPUT = 2


def fail(message: str, *, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `message` on stderr and exit with `code` (2 = bad input, per docs/cli.md)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit_json(obj: Any) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")


def read_json_file(path: Path, *, what: str) -> Any:
    """Load a JSON file given on the command line; bad input exits 2 naming the file and the reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{what}: cannot read {path}: {exc.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what}: {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def setup_django_for_reading() -> None:
    """Start Django for a command that only reads the database.

    On a data directory that has no database yet this exits 2 without creating anything (no directory, no
    generated secret, no empty database file), instead of initialising a new installation as a side effect.
    """
    from django.apps import apps

    from ketaclinic.web.config.bootstrap import embedded_database_missing, setup_django

    if apps.ready:  # already running against a database (a test, or a caller that set Django up)
        return
    home = embedded_database_missing()
    if home is not None:
        fail(
            f"KETACLINIC_HOME: no ketaclinic database in {home}; "
            "run `ketaclinic migrate` (or `ketaclinic demo`) first, or set DATABASE_URL"
        )
    setup_django()
