"""Export pages (start from the browser, follow the progress, download) and jobs resumed after a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.web.outcomes.test_outcomes_exports import data  # noqa: F401 - the stored clinic fixture
from tests.web.words import assert_human_text

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.outcomes.exports import resume_abandoned_jobs
from ketaclinic.web.outcomes.models import ExportJob


@pytest.fixture(autouse=True)
def _inline(settings: Any) -> None:
    settings.KETACLINIC_EXPORT_INLINE = True


def test_researcher_starts_a_parquet_extract_and_downloads_it(
    data: dict[str, Any],  # noqa: F811
    make_user: Callable[..., Any],
    client_as: Callable[[Any], Client],
) -> None:
    researcher = make_user("researcher")
    c = client_as(researcher)
    page = c.get("/outcomes/exports/").content.decode()
    assert "Start research extract" in page and "Start FHIR export" not in page  # no patient access
    assert_human_text(page)
    r = c.post("/outcomes/exports/", {"kind": "research", "format": "parquet"})
    job = ExportJob.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/outcomes/exports/{job.pk}/"
    assert (job.kind, job.params, job.status, job.requested_by) == (
        "research",
        {"format": "parquet"},
        "complete",
        researcher,
    )
    status = c.get(r["Location"]).content.decode()
    assert 'data-status="complete"' in status and 'http-equiv="refresh"' not in status
    assert f'href="/api/v1/outcomes/exports/{job.pk}/research.parquet"' in status
    assert "Research extract</a> (6 rows)" in status and "Data dictionary</a> (17 rows)" in status
    assert_human_text(status)
    got = c.get(f"/api/v1/outcomes/exports/{job.pk}/research.parquet")
    assert got.status_code == 200 and b"".join(got.streaming_content)[:4] == b"PAR1"
    listing = c.get("/outcomes/exports/").content.decode()
    assert f'data-job="{job.pk}"' in listing and "De-identified research extract" in listing


def test_export_page_refusals_change_nothing(
    data: dict[str, Any],  # noqa: F811
    make_user: Callable[..., Any],
    client_as: Callable[[Any], Client],
) -> None:
    researcher = client_as(make_user("researcher"))
    before = (ExportJob.objects.count(), AuditEvent.objects.filter(action__contains="kickoff").count())
    assert researcher.post("/outcomes/exports/", {"kind": "fhir"}).status_code == 403
    bad = researcher.post("/outcomes/exports/", {"kind": "research", "format": "xlsx"})
    assert bad.status_code == 400 and "must be CSV or Parquet" in bad.content.decode()
    assert researcher.post("/outcomes/exports/", {"kind": "spreadsheet"}).status_code == 400
    assert client_as(make_user("nurse", username="nurse9")).get("/outcomes/exports/").status_code in (
        403,
        404,
    )
    assert (
        ExportJob.objects.count(),
        AuditEvent.objects.filter(action__contains="kickoff").count(),
    ) == before
    # Another user's job is not found.
    admin = make_user("clinic_admin", username="admin9")
    client_as(admin).post("/outcomes/exports/", {"kind": "fhir"})
    other = ExportJob.objects.get(requested_by=admin)
    assert researcher.get(f"/outcomes/exports/{other.pk}/").status_code == 404


def test_running_job_page_shows_progress_and_refreshes(
    data: dict[str, Any],  # noqa: F811
    prescriber: Any,
    client_as: Callable[[Any], Client],
) -> None:
    job = ExportJob.objects.create(
        clinic=prescriber.memberships.first().clinic,
        kind="fhir_bulk",
        requested_by=prescriber,
        requested_at=timezone.now(),
        status="running",
        progress=40,
    )
    html = client_as(prescriber).get(f"/outcomes/exports/{job.pk}/").content.decode()
    assert '<progress id="x-progress" max="100" value="40">' in html and 'http-equiv="refresh"' in html


def test_abandoned_jobs_are_resumed_once_then_failed_with_a_reason(
    data: dict[str, Any],  # noqa: F811
    prescriber: Any,
) -> None:
    clinic = prescriber.memberships.first().clinic
    now = timezone.now()
    old = now - dt.timedelta(minutes=30)

    def job(**kw: Any) -> ExportJob:
        return ExportJob.objects.create(
            clinic=clinic,
            kind="research",
            requested_by=prescriber,
            requested_at=old,
            params={"format": "csv"},
            **kw,
        )

    abandoned = job(status="running", heartbeat_at=old, progress=60)
    fresh = job(status="running", heartbeat_at=now - dt.timedelta(minutes=1))
    twice = job(status="running", heartbeat_at=old, attempts=2)
    done = job(status="complete", heartbeat_at=old)
    resumed, failed = resume_abandoned_jobs(now)
    assert (resumed, failed) == ([str(abandoned.pk)], [str(twice.pk)])
    for j in (abandoned, fresh, twice, done):
        j.refresh_from_db()
    assert (abandoned.status, abandoned.attempts, abandoned.output[0]["file"]) == (
        "complete",
        2,
        "research.csv",
    )
    assert (fresh.status, fresh.attempts) == ("running", 1)
    assert twice.status == "failed" and "The server stopped while this export ran (2 attempts)" in twice.error
    assert done.status == "complete"
    ev = AuditEvent.objects.get(action="export.resumed")
    assert ev.detail == {"job": str(abandoned.pk), "kind": "research", "attempt": 2}
    # A second check finds nothing left to take.
    assert resume_abandoned_jobs(now) == ([], [])
