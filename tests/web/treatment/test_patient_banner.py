"""The patient banner on the chart tabs and the run sheet: who, weight (flagged when stale), allergies,
screening, open alerts, consent, protocol and course position; one selector with a fixed query count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from tests.web.pagetext import attrs_of, has_id, text_of
from tests.web.treatment.treatment_helpers import session_for

from ketaclinic.web.patients.banner import patient_banner
from ketaclinic.web.patients.models import Patient, WeightMeasurement
from ketaclinic.web.screening import actions as screening
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import SessionAlert

pytestmark = pytest.mark.django_db


def _age(patient: Any) -> int:
    return int(patient.age_on(timezone.localdate()))


def test_run_sheet_banner_names_every_fact(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    screening.do_record_allergy(actor=prescriber, patient_id=patient.pk, name="Penicillin")
    screening.do_record_allergy(
        actor=prescriber, patient_id=patient.pk, name="Latex", clinical_status="resolved"
    )
    SessionAlert.objects.create(
        session=s, code="sbp_high", level="warning", message="BP high", raised_at=timezone.now()
    )
    html = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content
    assert text_of(html, "banner-age") == f"{_age(patient)} years (born 1985-04-02)"
    assert text_of(html, "banner-sex") == "Female"
    weighed = timezone.localdate(timezone.now() - dt.timedelta(days=1))
    assert text_of(html, "banner-weight") == f"70.0 kg on {weighed:%Y-%m-%d}"
    assert attrs_of(html, "banner-weight")["data-stale"] == "no" and not has_id(html, "weight-stale")
    assert text_of(html, "banner-allergies") == "⚠ Penicillin"  # the resolved latex allergy is not listed
    # The treatment actions' screening check is stubbed; the banner reads the real record: recording an
    # allergy re-ran screening, which has no diagnosis on file and so needs a prescriber's review.
    assert text_of(html, "banner-screening") == "⚠ Not cleared: needs a prescriber's review"
    assert text_of(html, "banner-alerts") == "⚠ 1 open"
    assert text_of(html, "banner-consent") == "⚠ Not on file for treatment-resistant depression"
    assert text_of(html, "banner-protocol") == (
        "IV racemic ketamine for depression (0.5 mg/kg over 40 min; induction of 6, then maintenance) "
        "induction 1 of 6"
    )


def test_course_position_counts_sessions_not_cancelled(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    first = session_for(prescriber, nurse, patient)
    A.do_cancel_session(actor=nurse, session_id=first.pk, reason="patient unwell")
    course = first.course
    sessions = []
    for days in (1, 2):
        order = A.do_sign_order(
            actor=prescriber, course_id=course.pk, planned_for=timezone.now() + dt.timedelta(days=days)
        )
        sessions.append(
            A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=order.planned_for)
        )
    c = client_as(nurse)
    assert (
        text_of(c.get(f"/treatment/sessions/{sessions[0].pk}/").content, "banner-course")
        == "induction 1 of 6"
    )
    assert (
        text_of(c.get(f"/treatment/sessions/{sessions[1].pk}/").content, "banner-course")
        == "induction 2 of 6"
    )
    # The chart shows the latest session's place.
    assert text_of(c.get(f"/patients/{patient.pk}/").content, "banner-course") == "induction 2 of 6"


def test_stale_weight_is_flagged_by_the_clinics_limit(prescriber: Any, patient: Any, client_as: Any) -> None:
    WeightMeasurement.objects.filter(patient=patient).update(
        measured_at=timezone.now() - dt.timedelta(days=40)
    )
    c = client_as(prescriber)
    html = c.get(f"/patients/{patient.pk}/").content
    assert attrs_of(html, "banner-weight")["data-stale"] == "yes"
    assert text_of(html, "weight-stale") == "⚠ 40 days old, over the clinic's 30-day limit: re-weigh"
    patient.clinic.weight_max_age_days = 45
    patient.clinic.save(update_fields=["weight_max_age_days"])
    html = c.get(f"/patients/{patient.pk}/").content
    assert attrs_of(html, "banner-weight")["data-stale"] == "no" and not has_id(html, "weight-stale")
    WeightMeasurement.objects.filter(patient=patient).delete()
    html = c.get(f"/patients/{patient.pk}/").content
    assert text_of(html, "banner-weight") == "Not recorded ⚠ weigh before dosing"


def test_banner_without_clinical_reading_shows_who_only(
    front_desk: Any, patient: Any, client_as: Any
) -> None:
    html = client_as(front_desk).get(f"/patients/{patient.pk}/").content
    assert text_of(html, "banner-sex") == "Female"
    for ident in ("banner-weight", "banner-allergies", "banner-screening", "banner-alerts", "banner-consent"):
        assert not has_id(html, ident), ident


def test_banner_query_count(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, django_assert_num_queries: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    p = Patient.objects.select_related("clinic").get(pk=patient.pk)
    # weight 1; screening: allergies 1, latest run 1; suicide alerts 1; treatment: session alerts 1,
    # consents 1, course position 1 (the session's course is loaded with it); sensor alerts 1.
    session = type(s).objects.select_related("course").get(pk=s.pk)
    with django_assert_num_queries(8):
        b = patient_banner(p, clinical=True, session=session)
    assert (b.weight_kg, b.weight_stale, b.open_alerts, b.course_position) == (
        Decimal("70.0"),
        False,
        0,
        "induction 1 of 6",
    )
    p = Patient.objects.select_related("clinic").get(pk=patient.pk)
    with django_assert_num_queries(0):
        b = patient_banner(p, clinical=False)
    assert (b.name, b.sex, b.weight_kg) == ("Alex Rivera", "Female", None)
