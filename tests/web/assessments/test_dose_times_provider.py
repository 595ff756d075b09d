"""The treatment app is the assessments app's dose-times provider: trends mark dose days, and response,
remission and the time to first response are computed from the first administered dose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.assessments import actions as AA
from ketaclinic.web.assessments.providers import DOSE_TIMES_PROVIDERS, dose_times
from ketaclinic.web.assessments.selectors import trends_for_patient
from ketaclinic.web.treatment.models import DosingSession, Order, TreatmentCourse
from ketaclinic.web.treatment.selectors import dose_times_for_patient

pytestmark = pytest.mark.django_db

PHQ = {20: [3, 3, 3, 3, 2, 2, 2, 2, 0], 9: [2, 2, 2, 1, 1, 1, 0, 0, 0], 4: [1, 1, 1, 1, 0, 0, 0, 0, 0]}


def _phq9(nurse: Any, patient: Any, total: int, at: dt.datetime, context: str = "follow_up") -> None:
    AA.do_record_assessment(
        actor=nurse,
        patient_id=patient.pk,
        instrument_id="phq9",
        answers=PHQ[total],
        context=context,
        assessed_at=at,
    )


def _session(prescriber: Any, patient: Any, first_dose_at: dt.datetime | None, status: str) -> DosingSession:
    """A session as the treatment workflow leaves it (the provider reads `first_dose_at`, set by the first dose)."""
    course = TreatmentCourse.objects.create(
        clinic=patient.clinic,
        patient=patient,
        protocol_id="iv-racemic-depression",
        protocol_version=1,
        protocol_snapshot={},
        indication="trd",
        started_by=prescriber,
        started_at=timezone.now() - dt.timedelta(days=60),
    )
    order = Order.objects.create(
        course=course,
        patient=patient,
        drug="ketamine",
        route="iv",
        dose_mg=Decimal("35"),
        planned_for=first_dose_at or timezone.now(),
        guard_decision="allow",
        signed_by=prescriber,
        signed_at=timezone.now() - dt.timedelta(days=59),
    )
    return DosingSession.objects.create(
        clinic=patient.clinic,
        patient=patient,
        course=course,
        order=order,
        status=status,
        scheduled_for=first_dose_at or timezone.now(),
        first_dose_at=first_dose_at,
    )


def test_treatment_registers_its_provider() -> None:
    assert dose_times_for_patient in DOSE_TIMES_PROVIDERS


def test_response_then_remission_from_the_first_dose(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    t0 = (timezone.now() - dt.timedelta(days=40)).replace(microsecond=0)
    dose1 = t0 + dt.timedelta(days=1)
    dose2 = dose1 + dt.timedelta(days=3, hours=12)
    _phq9(nurse, patient, 20, t0, "baseline")
    (trend,) = trends_for_patient(patient)
    assert trend.outcome.baseline is None and trend.outcome.response is None  # no dose yet
    assert "No dose given yet: baseline not fixed." in trend.outcome.explanation

    _session(prescriber, patient, dose1, "discharged")
    _session(prescriber, patient, dose2, "discharged")
    _session(prescriber, patient, None, "scheduled")  # not dosed: not a dose time
    assert dose_times(patient) == [dose1, dose2]

    _phq9(nurse, patient, 9, dose1 + dt.timedelta(days=7))
    (trend,) = trends_for_patient(patient)
    o = trend.outcome
    assert (o.baseline.total, o.baseline.at, o.latest.total) == (20, t0, 9)
    assert (o.change, o.pct_change, o.response, o.remission) == (-11, Decimal("-55.0"), True, False)
    assert (o.time_to_first_response, o.days_to_first_response, o.hours_to_first_response) == (
        dt.timedelta(days=7),
        Decimal("7.0"),
        Decimal("168.0"),
    )

    _phq9(nurse, patient, 4, dose1 + dt.timedelta(days=21))
    (trend,) = trends_for_patient(patient)
    o = trend.outcome
    assert (o.baseline.total, o.latest.total, o.response, o.remission) == (20, 4, True, True)
    assert o.first_response.total == 9 and o.days_to_first_response == Decimal("7.0")

    # The chart: dose days marked on the trend, the outcome badges and the time to first response.
    r = client_as(nurse).get(f"/assessments/patient/{patient.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "Dose days marked: 2." in html
    assert html.count('class="dose"') == 2
    assert '<span class="badge ok">response</span>' in html
    assert '<span class="badge ok">remission</span>' in html
    assert "first response after 168.0 h (7.0 d)" in html
