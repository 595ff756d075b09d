"""CLI commands that run the platform: demo, serve, migrate, createuser, version."""

from __future__ import annotations

import typer

import ketaclinic


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the ketaclinic version."""
        typer.echo(ketaclinic.__version__)
