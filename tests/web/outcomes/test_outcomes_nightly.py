"""The nightly recompute inside `serve`: due after the hour in the clinic's zone, exactly once per clinic and
night however many processes check, a failed night taken over, and the task's settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes import nightly
from ketaclinic.web.outcomes.models import CohortSnapshot, NightlyRecompute
from ketaclinic.web.outcomes.synthetic import CourseSpec, make_course
from ketaclinic.web.patients.models import Patient

# 01:30 and 02:30 in Los Angeles (UTC-8 in December).
BEFORE = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)
AFTER = dt.datetime(2026, 12, 2, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def la_clinic(clinic: Clinic, site: Site, prescriber: Any) -> Clinic:
    clinic.is_synthetic = True
    clinic.save()
    site.timezone = "America/Los_Angeles"
    site.save()
    p = Patient.objects.create(
        clinic=clinic, home_site=site, mrn="N-1", given_name="A", family_name="B",
        birth_date=dt.date(1980, 1, 1), sex_at_birth="female",
    )  # fmt: skip
    make_course(
        clinic=clinic,
        patient=p,
        actor=prescriber,
        spec=CourseSpec(first_dose=AFTER - dt.timedelta(days=30), scores=[(-1.0, 20), (7.0, 8)], site=site),
    )
    return clinic


@pytest.mark.django_db
def test_a_clinic_is_recomputed_once_per_night_after_the_hour(la_clinic: Clinic) -> None:
    assert nightly.run_due(BEFORE) == []
    assert NightlyRecompute.objects.count() == 0 and CohortSnapshot.objects.count() == 0
    assert nightly.run_due(AFTER) == [la_clinic.slug]
    row = NightlyRecompute.objects.get()
    assert (row.night, row.status, row.attempts) == (dt.date(2026, 12, 2), "done", 1)
    snap = CohortSnapshot.objects.get(instrument_id="phq9")
    assert (snap.figures["n"], snap.figures["evaluable"], snap.figures["response"]["n"]) == (1, 1, 1)
    audits = AuditEvent.objects.filter(action="outcomes.recompute").count()
    # A second process (or the next check) the same night finds it claimed and does nothing.
    assert nightly.run_due(AFTER + dt.timedelta(hours=3)) == []
    assert CohortSnapshot.objects.count() == 1 and NightlyRecompute.objects.count() == 1
    assert AuditEvent.objects.filter(action="outcomes.recompute").count() == audits
    # The next night runs again.
    assert nightly.run_due(AFTER + dt.timedelta(days=1)) == [la_clinic.slug]
    assert CohortSnapshot.objects.count() == 2 and NightlyRecompute.objects.count() == 2


@pytest.mark.django_db
def test_only_one_claim_wins_a_night(la_clinic: Clinic) -> None:
    night = dt.date(2026, 12, 2)
    assert nightly.claim_night(la_clinic, night, AFTER) is True
    assert nightly.claim_night(la_clinic, night, AFTER) is False
    assert NightlyRecompute.objects.filter(clinic=la_clinic, night=night).count() == 1


@pytest.mark.django_db
def test_a_failed_night_is_recorded_and_taken_over(
    la_clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketaclinic.web.outcomes import actions

    def broken(**_: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "do_recompute_cohort_snapshots", broken)
    assert nightly.run_due(AFTER) == []
    row = NightlyRecompute.objects.get()
    assert (row.status, row.error, row.attempts) == ("failed", "database went away", 1)
    assert CohortSnapshot.objects.count() == 0
    monkeypatch.undo()
    assert nightly.run_due(AFTER + dt.timedelta(minutes=5)) == [la_clinic.slug]
    row.refresh_from_db()
    assert (row.status, row.error, row.attempts) == ("done", "", 2)
    assert CohortSnapshot.objects.count() == 1


def test_settings_of_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETACLINIC_RECOMPUTE_CHECK_S", raising=False)
    monkeypatch.delenv("KETACLINIC_RECOMPUTE_HOUR", raising=False)
    assert (nightly.check_interval(), nightly.recompute_hour()) == (300.0, 2)
    monkeypatch.setenv("KETACLINIC_RECOMPUTE_CHECK_S", "0")
    monkeypatch.setenv("KETACLINIC_RECOMPUTE_HOUR", "30")
    assert (nightly.check_interval(), nightly.recompute_hour()) == (0.0, 23)
    monkeypatch.setenv("KETACLINIC_RECOMPUTE_CHECK_S", "soon")
    assert nightly.check_interval() == 300.0


@pytest.mark.django_db(transaction=True)
def test_serve_starts_the_recompute_task_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from ketaclinic.web.config import asgi

    started: list[float] = []

    async def fake_loop(every: float) -> None:
        started.append(every)
        await asyncio.sleep(3600)

    monkeypatch.setattr(nightly, "run_recompute_loop", fake_loop)
    monkeypatch.setenv("KETACLINIC_ESCALATION_EVERY_S", "0")
    monkeypatch.setenv("KETACLINIC_RECOMPUTE_CHECK_S", "60")

    async def lifespan() -> list[str]:
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: dict[str, str]) -> None:
            sent.append(message["type"])

        await inbox.put({"type": "lifespan.startup"})
        task = asyncio.create_task(asgi.application({"type": "lifespan"}, inbox.get, send))
        await asyncio.sleep(0.05)
        await inbox.put({"type": "lifespan.shutdown"})
        await task
        return sent

    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert started == [60.0]
