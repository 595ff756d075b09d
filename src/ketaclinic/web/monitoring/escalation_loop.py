"""Escalation as a periodic task inside every `serve` process, so it runs when no sensor is sending.

Every process of every host runs it; an alert still escalates exactly once, because the escalation is a
conditional UPDATE (`escalated_at IS NULL AND acknowledged_at IS NULL`) that only one transaction can win.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import sync_to_async

log = logging.getLogger(__name__)

#: Seconds between checks; 0 turns the task off (then run `ketaclinic manage monitoring_escalate`).
DEFAULT_EVERY_S = 5.0


def escalation_interval() -> float:
    """KETACLINIC_ESCALATION_EVERY_S, default 5; 0 disables the in-process task."""
    raw = os.environ.get("KETACLINIC_ESCALATION_EVERY_S", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_EVERY_S
    except ValueError:
        log.error("KETACLINIC_ESCALATION_EVERY_S: %r is not a number; using %s s", raw, DEFAULT_EVERY_S)
        value = DEFAULT_EVERY_S
    return max(value, 0.0)


def _check_once() -> int:
    from django.db import close_old_connections

    from ketaclinic.web.monitoring.actions import do_escalate_overdue_alerts

    close_old_connections()
    try:
        return len(do_escalate_overdue_alerts())
    finally:
        close_old_connections()


async def run_escalation_loop(every: float) -> None:
    """Check for overdue alerts every `every` seconds until cancelled; a failed check is logged and retried."""
    while True:
        try:
            n = await sync_to_async(_check_once, thread_sensitive=False)()
            if n:
                log.info("escalated %d monitoring alert(s)", n)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database is away: keep trying, the next check catches up
            log.exception("monitoring escalation check failed; retrying in %s s", every)
        await asyncio.sleep(every)
