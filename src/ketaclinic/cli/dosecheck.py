"""CLI commands for this area (registered by ketaclinic.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`. Filled in by the area's owner."""
