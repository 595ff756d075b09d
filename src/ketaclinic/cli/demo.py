"""`ketaclinic demo`: the synthetic demo clinic on the embedded database, seeded once, then served."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Annotated

import typer

from ketaclinic.cli._common import fail


def claim_port(host: str, port: int) -> socket.socket:
    """Bind `host:port` now, so a busy port is reported before any work; the server later listens on it."""
    if not 1 <= port <= 65535:
        fail(f"--port: {port} is not a port number (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"--host: cannot use {host!r}: {exc.strerror}")
    family, _type, _proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT does not block
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"--port: port {port} on {host} is already in use (another ketaclinic demo or server?); "
                "stop it or choose another port with --port"
            )
        fail(f"--host: cannot listen on {host}:{port}: {exc.strerror}")
    return sock


def serve_on(sock: socket.socket, url: str) -> None:
    """Serve the ASGI application on an already bound socket (one process), after saying where."""
    import uvicorn

    from ketaclinic.cli.server import websocket_implementation

    config = uvicorn.Config(
        "ketaclinic.web.config.asgi:application",
        log_level="warning",
        proxy_headers=True,
        lifespan="on",  # starts the periodic escalation check (ketaclinic.web.config.asgi)
        ws=websocket_implementation(),
    )
    # Listen before saying so: a browser or script that connects at once waits in the backlog until the
    # server accepts, instead of being refused in the moment between this line and the server's start.
    sock.listen(2048)
    typer.echo(f"Serving on {url} — Ctrl+C to stop")
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    """Add `demo`."""

    @app.command()
    def demo(
        port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after seeding.")] = True,
        use_database_url: Annotated[
            bool,
            typer.Option(
                "--use-database-url",
                help="Seed the demo into the database named by DATABASE_URL (e.g. PostgreSQL) instead of the "
                "embedded SQLite file. Synthetic data only: never point it at a database with real patients.",
            ),
        ] = False,
    ) -> None:
        """Create (once) the embedded demo database with a synthetic clinic, print sign-in details, and serve it."""
        allowed = use_database_url or os.environ.get("KETACLINIC_DEMO_ALLOW_DATABASE_URL")
        if use_database_url and not os.environ.get("DATABASE_URL"):
            fail("--use-database-url: set DATABASE_URL to the database to seed (e.g. postgres://...)")
        if os.environ.get("DATABASE_URL") and not allowed:
            fail(
                "DATABASE_URL: the demo uses its own embedded SQLite database; unset DATABASE_URL, or pass "
                "--use-database-url to seed the demo into that database"
            )
        sock = claim_port(host, port) if serve else None
        from ketaclinic.cli.server import _migrate, _setup

        _setup("development")
        from ketaclinic.web.accounts.roles import Role
        from ketaclinic.web.config.bootstrap import data_home
        from ketaclinic.web.demo import DEMO_PASSWORD, DEMO_STAFF, demo_exists, seed_demo, seeding_steps

        home = data_home()
        _migrate()
        if demo_exists():
            typer.echo(f"Using the existing demo data in {home}")
        else:
            label = "Seeding synthetic demo clinic"
            with typer.progressbar(length=len(seeding_steps()), label=label, show_pos=True) as bar:

                def advance(step: str) -> None:
                    bar.label = f"{label} ({step} done)"
                    bar.update(1)

                seed_demo(progress=advance)
        url = f"http://{host}:{port}"
        typer.echo("")
        typer.echo("ketaclinic demo — synthetic data only, never real patients.")
        typer.echo(f"Data directory: {home}")
        typer.echo(f"Open {url}/ and sign in as one of (password for all: {DEMO_PASSWORD}):")
        for username, name, roles, _prof in DEMO_STAFF:
            typer.echo(f"  {username:<18} {name:<22} {', '.join(Role(r).label for r in roles)}")
        if sock is not None:
            typer.echo("")
            serve_on(sock, url)
