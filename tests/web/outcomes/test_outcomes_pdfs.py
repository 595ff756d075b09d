"""Progress report and clinic summary PDFs: they open, their text is extractable, their charts are drawn."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from pypdf import PdfReader

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes.synthetic import CourseSpec, make_course
from ketaclinic.web.patients.models import Patient

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def pdf_text(content: bytes) -> tuple[str, bytes]:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    streams = b"".join(page.get_contents().get_data() for page in reader.pages)  # type: ignore[union-attr]
    return re.sub(r"\s+", " ", text), streams


@pytest.fixture
def treated(clinic: Clinic, site: Site, prescriber: Any) -> Patient:
    clinic.is_synthetic = True
    clinic.save()
    site.timezone = "America/Los_Angeles"
    site.save()
    p = Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn="MRN-77",
        given_name="Noor",
        family_name="Haddad",
        birth_date=dt.date(1979, 5, 6),
        sex_at_birth="female",
        referring_clinician="Dr Lena Ortiz",
    )
    make_course(
        clinic=clinic,
        patient=p,
        actor=prescriber,
        spec=CourseSpec(
            T0,
            [(-1, 20), (2, 14), (7, 9), (21, 4)],
            site=site,
            sessions=3,
            side_effects=["nausea_vomiting"],
            alerts=["sbp_high"],
        ),
    )
    return p


def test_progress_report_text_and_chart(
    treated: Patient, prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    before = AuditEvent.objects.filter(action="outcomes.progress_report").count()
    r = client_as(prescriber).get(f"/outcomes/patients/{treated.pk}/progress.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    text, streams = pdf_text(r.content)
    assert "Treatment progress report: Noor Haddad" in text
    assert "Referred by Dr Lena Ortiz." in text
    assert "(America/Los_Angeles)" in text
    # 09:00 UTC on 2 March is 01:00 in Los Angeles (PST)
    assert "First dose 2026-03-02 01:00" in text
    assert "Patient Health Questionnaire-9 (PHQ-9): 4 scores" in text
    assert "Baseline 20 on 2026-03-01; latest 4 on 2026-03-23 (-80 %)." in text
    assert "at the latest score yes; at any score yes, first met 7.0 days after the first dose" in text
    assert "Remission (a score below 5): at the latest score yes" in text
    assert text.count("Ketamine") == 3 and "Intravenous" in text and "35 mg" in text
    assert "Nausea / vomiting (moderate)" in text
    assert "No session is scheduled." in text
    assert "phq9" not in text and "nausea_vomiting" not in text and "sbp_high" not in text
    # The trend: a polyline through the 4 scores (3 segments drawn with the "l" operator) and 4 filled dots.
    assert len(re.findall(rb"[\d.]+ [\d.]+ l\b", streams)) >= 3
    ev = AuditEvent.objects.filter(action="outcomes.progress_report").latest("pk")
    assert AuditEvent.objects.filter(action="outcomes.progress_report").count() == before + 1
    assert ev.patient_id == treated.pk and ev.actor == prescriber


def test_progress_report_for_a_patient_without_treatment(
    patient: Patient, prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    r = client_as(prescriber).get(f"/outcomes/patients/{patient.pk}/progress.pdf")
    assert r.status_code == 200
    text, _ = pdf_text(r.content)
    assert "No treatment course has been started." in text
    assert "No completed rating scales." in text
    assert "No doses given." in text


def test_progress_report_access(
    treated: Patient,
    other_clinic: Clinic,
    make_user: Callable[..., Any],
    client_as: Callable[[Any], Client],
) -> None:
    before = AuditEvent.objects.exclude(action="access.denied").count()
    assert (
        client_as(make_user("researcher")).get(f"/outcomes/patients/{treated.pk}/progress.pdf").status_code
        == 403
    )
    outsider = make_user("prescriber", clinic=other_clinic)
    assert client_as(outsider).get(f"/outcomes/patients/{treated.pk}/progress.pdf").status_code == 404
    # No read is audited; the researcher's refused attempt is (access.denied).
    assert AuditEvent.objects.exclude(action="access.denied").count() == before
    assert AuditEvent.objects.filter(action="access.denied").count() == 1


def test_chart_header_links_the_progress_report(
    treated: Patient, prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    html = client_as(prescriber).get(f"/patients/{treated.pk}/").content.decode()
    assert f'href="/outcomes/patients/{treated.pk}/progress.pdf"' in html


def test_clinic_summary_pdf(
    treated: Patient, make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    researcher = make_user("researcher")
    r = client_as(researcher).get("/outcomes/summary.pdf", {"since": "2026-02-01", "until": "2026-03-31"})
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text, streams = pdf_text(r.content)
    assert "Outcomes summary: Test Clinic" in text
    assert "Courses started from 2026-02-01 until 2026-03-31." in text
    # An export: counts of 1 to 10 are suppressed for every reader (the clinic's threshold, 11 by default).
    assert 'any count from 1 to 10 reads "fewer than 11"' in text
    assert "Courses enrolled fewer than 11" in text and "Evaluable fewer than 11" in text
    assert "Response at any score withheld (small numbers) withheld (small numbers)" in text
    assert "Median time to first response withheld (small numbers)" in text
    assert "Not drawn: it would show fewer than 11 patients." in text
    assert "fewer than 11 dosing sessions." in text
    assert "Nausea or vomiting fewer than 11 withheld (small numbers)" in text
    assert "1 of 1" not in text and "33.3" not in text
    assert "Haddad" not in text and "MRN-77" not in text
    assert (
        re.findall(rb"[\d.]+ [\d.]+ l\b", streams) == []
    )  # every chart would show fewer than 11: none drawn
    ev = AuditEvent.objects.filter(action="outcomes.summary_pdf").latest("pk")
    assert ev.actor == researcher and ev.detail["since"] == "2026-02-01"


def test_clinic_summary_pdf_bad_period_is_refused(
    treated: Patient, prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    before = AuditEvent.objects.count()
    r = client_as(prescriber).get("/outcomes/summary.pdf", {"since": "2026-03-31", "until": "2026-03-01"})
    assert r.status_code == 400
    assert "must be on or after the start of the period" in r.content.decode()
    assert AuditEvent.objects.count() == before
