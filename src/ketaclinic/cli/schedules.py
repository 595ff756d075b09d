"""`ketaclinic run-schedules`: materialise due remote-questionnaire links (assessments schedules), once or in a loop."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import fail

DEFAULT_INTERVAL = 300
MIN_INTERVAL = 10
MAX_INTERVAL = 86400


def _setup() -> None:
    from ketaclinic.web.config.bootstrap import setup_django

    setup_django()


def _stamp(when: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(when).isoformat(timespec="seconds")


def run_once(*, now: dt.datetime | None = None) -> list[Any]:
    """One pass: create the links of every due interval schedule and print one line per link and a summary."""
    from django.utils import timezone

    from ketaclinic.web.assessments.actions import materialise_due_links

    at = now or timezone.now()
    links = materialise_due_links(now=at)
    for link in links:
        sched = link.schedule
        typer.echo(
            f"created {link.instrument_id} link {link.pk} for patient {link.patient.mrn} "
            f"(schedule {sched.pk if sched else '-'}): opens {_stamp(link.available_from)}, "
            f"expires {_stamp(link.expires_at)}"
            + (f", next due {_stamp(sched.next_due_at)}" if sched and sched.next_due_at else "")
        )
    typer.echo(
        f"{_stamp(at)} run-schedules: {len(links)} questionnaire link{'s' if len(links) != 1 else ''} created"
    )
    return links


def serve(*, interval: int, wait: Callable[[float], bool] | None = None) -> int:
    """Run `run_once` every `interval` seconds until SIGTERM/SIGINT. Returns the number of passes made.

    A failed pass (e.g. the database is briefly unavailable) is reported on stderr and retried at the next
    interval; each pass is one transaction, so an interrupted pass leaves nothing half-written."""
    from django.db import close_old_connections, connection

    def refresh_connection() -> None:
        # Drop a connection the database closed (e.g. after a restart) between passes. Never inside an
        # enclosing transaction (an embedding caller, or a test), which would lose that transaction.
        if not connection.in_atomic_block:
            close_old_connections()

    stop = threading.Event()
    waiter = wait or stop.wait

    def _stop(signum: int, _frame: Any) -> None:
        typer.echo(f"run-schedules: signal {signum} received, stopping", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    passes = 0
    try:
        while not stop.is_set():
            refresh_connection()
            try:
                run_once()
            except Exception as exc:  # a service must survive a failed pass and retry
                typer.echo(f"run-schedules: pass failed, retrying in {interval} s: {exc!r}", err=True)
            passes += 1
            if waiter(interval):
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        refresh_connection()
    typer.echo(f"run-schedules: stopped after {passes} pass{'es' if passes != 1 else ''}")
    return passes


def register(app: typer.Typer) -> None:
    @app.command("run-schedules")
    def run_schedules(
        once: Annotated[bool, typer.Option("--once", help="Make one pass and exit (for cron).")] = False,
        interval: Annotated[
            int,
            typer.Option(
                "--interval",
                help=f"Seconds between passes when running as a service ({MIN_INTERVAL}-{MAX_INTERVAL}).",
            ),
        ] = DEFAULT_INTERVAL,
    ) -> None:
        """Create the remote questionnaire links that schedules have made due (e.g. PHQ-9 weekly).

        With --once: one pass, then exit (run it from cron). Without: a pass every --interval seconds until
        stopped (run it as a service). Post-dose links are made by the treatment app when a dose is given."""
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            fail(f"--interval: must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds, got {interval}")
        _setup()
        from django.db import DatabaseError

        if once:
            try:
                run_once()
            except DatabaseError as exc:
                fail(f"database: cannot run the schedules ({exc}); run `ketaclinic migrate` first?", code=1)
            return
        serve(interval=interval)
