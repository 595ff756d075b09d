"""CLI commands that run the platform: serve, migrate, createclinic, createuser, createtoken, manage."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import fail
from ketaclinic.core.audit.events import AuditAction


def _setup(environment: str | None = None) -> None:
    if environment is not None:
        os.environ["KETACLINIC_ENV"] = environment
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()


def _migrate(*, quiet: bool = False) -> None:
    """Apply pending migrations; unless `quiet`, with a progress bar that advances as each one is applied."""
    from django.core.management import call_command
    from django.core.management.commands.migrate import Command as MigrateCommand
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    if quiet:
        call_command("migrate", interactive=False, verbosity=0)
        return
    with typer.progressbar(length=len(plan), label="Migrating database", show_pos=True) as bar:

        class _WithProgress(MigrateCommand):
            def migration_progress_callback(
                self, action: str, migration: Any = None, fake: bool = False
            ) -> None:
                if action == "apply_success":
                    bar.update(1)

        call_command(_WithProgress(), interactive=False, verbosity=0)


def production_problems() -> list[str]:
    """Reasons the production server must not start with the current settings."""
    from django.conf import settings
    from django.core.checks.security.base import (
        SECRET_KEY_INSECURE_PREFIX,
        SECRET_KEY_MIN_LENGTH,
        SECRET_KEY_MIN_UNIQUE_CHARACTERS,
    )

    problems = []
    key = str(settings.SECRET_KEY or "")
    # The same rule as `manage check --deploy` (security.W009), so serve never starts on a key it warns about.
    if (
        key in ("", getattr(settings, "DEFAULT_SECRET", None))
        or len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        problems.append(
            f"SECRET_KEY: set a unique random secret of at least {SECRET_KEY_MIN_LENGTH} characters with at least "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters, not starting {SECRET_KEY_INSECURE_PREFIX!r} "
            "(it is unset, the default, or too weak)"
        )
    if settings.DEBUG:
        problems.append("DEBUG: must be off in production (unset DEBUG or set DEBUG=0)")
    if not settings.ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS: list the host names this server answers to")
    return problems


def _run_uvicorn(host: str, port: int, workers: int, *, log_level: str) -> None:
    import inspect

    import uvicorn
    from django.conf import settings

    # X-Forwarded-For is honoured only from the proxies the operator lists (KETACLINIC_TRUSTED_PROXIES).
    trusted = list(getattr(settings, "KETACLINIC_TRUSTED_PROXIES", []))

    extra: dict[str, object] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # uvicorn kills a worker that misses its 5-s health ping; a busy worker (20 sign-ins hashing at once
        # on a loaded host) is not hung, and killing it drops every socket it serves. Allow 30 s.
        extra["timeout_worker_healthcheck"] = 30
    uvicorn.run(
        "ketaclinic.web.config.asgi:application",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) or None,
        lifespan="on",  # starts the periodic escalation check (ketaclinic.web.config.asgi)
        ws=websocket_implementation(),
        **extra,  # type: ignore[arg-type]
    )


def default_workers(cpus: int | None = None) -> int:
    """Worker processes for this machine: one per CPU core (at least 1, at most 16).

    Each worker is one event loop with its own thread pool for database work; requests are mostly
    database-bound, so one worker per core keeps every core busy without queueing on the GIL.
    """
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, min(16, n))


def websocket_implementation() -> str:
    """uvicorn's sans-I/O websockets protocol when the websockets package is installed."""
    import importlib.util

    return "websockets-sansio" if importlib.util.find_spec("websockets") is not None else "auto"


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate() -> None:
        """Create or update the database schema (the configured DATABASE_URL, else the embedded SQLite)."""
        _setup()
        _migrate()
        typer.echo("Database is up to date.")

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
            record_audit(
                actor="ketaclinic createclinic", action=AuditAction.CLINIC_CREATE, obj=clinic, clinic=clinic
            )
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
