"""CLI commands that run the platform: demo, serve, migrate, createclinic, createuser, createtoken, manage, version."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ketaclinic.cli._common import fail


def _setup(environment: str | None = None) -> None:
    if environment is not None:
        os.environ["KETACLINIC_ENV"] = environment
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()


def _migrate(*, quiet: bool = False) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    if quiet:
        call_command("migrate", interactive=False, verbosity=0)
        return
    with typer.progressbar(length=len(plan), label="Migrating database") as bar:
        call_command("migrate", interactive=False, verbosity=0)
        bar.update(len(plan))


def production_problems() -> list[str]:
    """Reasons the production server must not start with the current settings."""
    from django.conf import settings

    problems = []
    if (
        settings.SECRET_KEY in ("", getattr(settings, "DEFAULT_SECRET", None))
        or len(settings.SECRET_KEY) < 32
    ):
        problems.append(
            "SECRET_KEY: set a unique secret of at least 32 characters (it is unset or the default)"
        )
    if settings.DEBUG:
        problems.append("DEBUG: must be off in production (unset DEBUG or set DEBUG=0)")
    if not settings.ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS: list the host names this server answers to")
    return problems


def _run_uvicorn(host: str, port: int, workers: int, *, log_level: str) -> None:
    import uvicorn

    uvicorn.run(
        "ketaclinic.web.config.asgi:application",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        lifespan="on",  # starts the periodic escalation check (ketaclinic.web.config.asgi)
        ws="websockets-sansio" if _has_module("websockets") else "auto",
    )


def default_workers(cpus: int | None = None) -> int:
    """Worker processes for this machine: one per CPU core (at least 1, at most 16).

    Each worker is one event loop with its own thread pool for database work; requests are mostly
    database-bound, so one worker per core keeps every core busy without queueing on the GIL.
    """
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, min(16, n))


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate() -> None:
        """Create or update the database schema (the configured DATABASE_URL, else the embedded SQLite)."""
        _setup()
        _migrate()
        typer.echo("Database is up to date.")

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
        _setup("development")
        from ketaclinic.web.config.bootstrap import data_home
        from ketaclinic.web.demo import DEMO_PASSWORD, DEMO_STAFF, DOMAIN_APPS, demo_exists, seed_demo

        home = data_home()
        _migrate()
        if demo_exists():
            typer.echo(f"Using the existing demo data in {home}")
        else:
            steps = 1 + len(DOMAIN_APPS)  # clinic, staff and patients; then each domain app's data
            with typer.progressbar(length=steps, label="Seeding synthetic demo clinic") as bar:
                seed_demo(progress=lambda _step: bar.update(1))
        typer.echo("")
        typer.echo("ketaclinic demo — synthetic data only, never real patients.")
        typer.echo(f"Data directory: {home}")
        typer.echo(f"Open http://{host}:{port}/ and sign in as one of (password for all: {DEMO_PASSWORD}):")
        for username, name, roles, _prof in DEMO_STAFF:
            typer.echo(f"  {username:<18} {name:<22} {', '.join(roles)}")
        if serve:
            typer.echo("")
            sys.stdout.flush()
            _run_uvicorn(host, port, 1, log_level="warning")

    @app.command("serve")
    def serve_cmd(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port.")] = 8000,
        workers: Annotated[
            int | None,
            typer.Option(
                min=1, help="Worker processes (default: one per CPU core; more than 1 needs REDIS_URL)."
            ),
        ] = None,
        dev: Annotated[bool, typer.Option("--dev", help="Development mode (no production checks).")] = False,
    ) -> None:
        """Run the production ASGI server (uvicorn) against the configured database."""
        _setup("development" if dev else "production")
        if not dev:
            problems = production_problems()
            if problems:
                for problem in problems:
                    typer.echo(f"error: {problem}", err=True)
                typer.echo("error: refusing to start in production mode", err=True)
                raise typer.Exit(2)
        if workers is None:
            # Without Redis, live updates only reach sockets of the same process: stay at one worker.
            workers = default_workers() if os.environ.get("REDIS_URL") else 1
        if workers > 1 and not os.environ.get("REDIS_URL"):
            fail(
                "REDIS_URL: more than one worker needs the Redis channel layer so live updates reach every browser"
            )
        typer.echo(f"Serving on http://{host}:{port}/ with {workers} worker(s).", err=True)
        _run_uvicorn(host, port, workers, log_level="info")

    @app.command()
    def createclinic(
        slug: Annotated[str, typer.Argument(help="Short unique id, e.g. riverside")],
        name: Annotated[str, typer.Option(help="Clinic name")],
        site: Annotated[str, typer.Option(help="First site's name")],
        jurisdiction: Annotated[str, typer.Option(help="US-XX, UK or AU-XX")],
    ) -> None:
        """Create a clinic with its first site (for a fresh production install)."""
        _setup()
        from django.db import transaction

        from ketaclinic.web.clinics.jurisdictions import JURISDICTIONS
        from ketaclinic.web.clinics.models import Clinic, Site
        from ketaclinic.web.lib.audit import record_audit

        if jurisdiction.upper() not in JURISDICTIONS:
            fail("jurisdiction: must be a US state (US-CA), UK, or an Australian state (AU-NSW)")
        if Clinic.objects.filter(slug=slug).exists():
            fail(f"slug: a clinic {slug!r} already exists")
        with transaction.atomic():
            clinic = Clinic.objects.create(slug=slug, name=name)
            Site.objects.create(clinic=clinic, name=site, jurisdiction=jurisdiction.upper())
            record_audit(actor="ketaclinic createclinic", action="clinic.create", obj=clinic, clinic=clinic)
        typer.echo(f"Created clinic {slug} (id {clinic.pk}).")

    @app.command()
    def createuser(
        username: Annotated[str, typer.Argument()],
        clinic: Annotated[str, typer.Option(help="Clinic slug")],
        role: Annotated[
            list[str],
            typer.Option(
                help="Role (repeat): prescriber, nurse, front_desk, custodian, auditor, clinic_admin"
            ),
        ],
        display_name: Annotated[str, typer.Option()] = "",
        email: Annotated[str, typer.Option()] = "",
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
    ) -> None:
        """Create a staff account with roles in a clinic."""
        _setup()
        from ketaclinic.web.accounts.actions import do_create_user
        from ketaclinic.web.clinics.models import Clinic
        from ketaclinic.web.lib.errors import ValidationFailed

        row = Clinic.objects.filter(slug=clinic).first()
        if row is None:
            fail(f"clinic: no clinic with slug {clinic!r}")
        password = (
            sys.stdin.readline().rstrip("\n")
            if password_stdin
            else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
        try:
            user = do_create_user(
                actor="ketaclinic createuser",
                username=username,
                password=password,
                clinic=row,
                roles=role,
                display_name=display_name,
                email=email,
                check_actor=False,
            )
        except ValidationFailed as exc:
            fail(exc.message)
        typer.echo(f"Created user {user.username} with roles {', '.join(role)} in {row.slug}.")

    @app.command()
    def createtoken(
        username: Annotated[str, typer.Argument()],
        name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    ) -> None:
        """Create an API bearer token for a user and print it once."""
        _setup()
        from ketaclinic.web.accounts.actions import do_create_api_token
        from ketaclinic.web.accounts.models import User

        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            fail(f"username: no active user {username!r}")
        _token, raw = do_create_api_token(actor=user, name=name)
        typer.echo(raw)

    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def manage(ctx: typer.Context) -> None:
        """Run a Django management command (e.g. `ketaclinic manage check --deploy`)."""
        _setup()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["ketaclinic manage", *ctx.args])
