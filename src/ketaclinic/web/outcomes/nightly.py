"""The nightly recompute of every clinic's cohort figures, as a periodic task inside every `serve` process.

Every process checks every `KETACLINIC_RECOMPUTE_CHECK_S` seconds (default 300; 0 turns the task off, then run
`ketaclinic outcomes-recompute` from cron). Once a clinic's local time is past `KETACLINIC_RECOMPUTE_HOUR`
(default 2, i.e. 02:00 in the clinic's zone), the first process to claim that clinic's night recomputes it:
the claim is an INSERT under a unique (clinic, night) constraint, so only one transaction can win it, and a
night whose run failed is taken over by a conditional UPDATE (status failed -> running) that again only one
process wins. A clinic is therefore recomputed exactly once per night however many processes run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic

log = logging.getLogger(__name__)

DEFAULT_CHECK_S = 300.0
DEFAULT_HOUR = 2


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw.strip() else default
    except ValueError:
        log.error("%s: %r is not a number; using %s", name, raw, default)
        return default


def check_interval() -> float:
    return max(_env_number("KETACLINIC_RECOMPUTE_CHECK_S", DEFAULT_CHECK_S), 0.0)


def recompute_hour() -> int:
    return min(max(int(_env_number("KETACLINIC_RECOMPUTE_HOUR", DEFAULT_HOUR)), 0), 23)


def claim_night(clinic: Clinic, night: dt.date, now: dt.datetime) -> bool:
    """Claim the clinic's recompute for `night`; True for exactly one caller (or a taker-over of a failure)."""
    from django.db import IntegrityError, transaction
    from django.db.models import F

    from ketaclinic.web.outcomes.models import NightlyRecompute

    try:
        with transaction.atomic():
            NightlyRecompute.objects.create(clinic=clinic, night=night, claimed_at=now)
        return True
    except IntegrityError:
        taken = NightlyRecompute.objects.filter(
            clinic=clinic, night=night, status=NightlyRecompute.Status.FAILED
        ).update(status=NightlyRecompute.Status.RUNNING, claimed_at=now, attempts=F("attempts") + 1, error="")
        return taken == 1


def run_due(now: dt.datetime | None = None) -> list[str]:
    """Recompute every clinic whose night is due and not yet claimed; returns the slugs this call recomputed."""
    from django.utils import timezone

    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.lib.timezones import zone_name_of_clinic, zone_or_default
    from ketaclinic.web.outcomes import actions
    from ketaclinic.web.outcomes.models import NightlyRecompute

    at = now or timezone.now()
    hour = recompute_hour()
    done: list[str] = []
    for clinic in Clinic.objects.order_by("pk"):
        local = at.astimezone(zone_or_default(zone_name_of_clinic(clinic)))
        if local.hour < hour or not claim_night(clinic, local.date(), at):
            continue
        row = NightlyRecompute.objects.filter(clinic=clinic, night=local.date())
        try:
            actions.do_recompute_cohort_snapshots(clinic=clinic, now=at)
        except Exception as exc:  # recorded on the claim; the next check of any process takes it over
            row.update(
                status=NightlyRecompute.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
            )
            log.exception("nightly outcomes recompute failed for %s", clinic.slug)
            continue
        row.update(status=NightlyRecompute.Status.DONE, finished_at=timezone.now())
        done.append(clinic.slug)
    return done


def _check_once() -> list[str]:
    from django.db import close_old_connections

    from ketaclinic.web.outcomes.exports import resume_abandoned_jobs

    close_old_connections()
    try:
        # The same periodic check picks up export jobs a stopped process left unfinished.
        resumed, failed = resume_abandoned_jobs()
        if resumed or failed:
            log.info("export jobs resumed: %s; failed after retries: %s", resumed, failed)
        return run_due()
    finally:
        close_old_connections()


async def run_recompute_loop(every: float) -> None:
    """Check for due nightly recomputes every `every` seconds until cancelled; failures are logged."""
    while True:
        try:
            done = await sync_to_async(_check_once, thread_sensitive=False)()
            if done:
                log.info("nightly outcomes recompute done for %s", ", ".join(done))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("nightly outcomes recompute check failed; retrying in %s s", every)
        await asyncio.sleep(every)
