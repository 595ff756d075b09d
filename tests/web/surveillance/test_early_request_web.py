"""Early-request alert in the web: a session booked sooner than the protocol's interval after the last dose is a
safety alert on the chart, the run sheet (dose screen) and the prescriber's inbox; a decision closes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.home.inbox import inbox_alerts
from ketaclinic.web.surveillance import actions, selectors
from ketaclinic.web.surveillance.demo import seed_dose_history
from ketaclinic.web.treatment.models import DosingSession

pytestmark = pytest.mark.django_db


def _book(patient: Any, course: Any, hours_after_dose: float, dose_at: dt.datetime) -> DosingSession:
    return DosingSession.objects.create(
        clinic=patient.clinic, site=patient.home_site, patient=patient, course=course,
        scheduled_for=dose_at + dt.timedelta(hours=hours_after_dose),
    )  # fmt: skip


def test_booking_inside_the_protocol_interval_alerts_everywhere(
    prescriber: Any, nurse: Any, patient: Any, clinic: Any, client_as: Any
) -> None:
    dose_at = timezone.now() - dt.timedelta(hours=6)
    course = seed_dose_history(patient, prescriber=prescriber, nurse=nurse, doses=[(dose_at, Decimal("35"))])
    ok = _book(patient, course, 48, dose_at)  # 48 h >= the protocol's 44 h
    assert [f.code for f in selectors.evaluate_patient(patient).open_alerts] == []
    early = _book(patient, course, 30, dose_at)
    ev = selectors.evaluate_patient(patient)
    assert [f.code for f in ev.open_alerts] == ["early_request"]
    dose_ref = f"MedicationAdministration/{course.sessions.get(first_dose_at__isnull=False).administrations.get().pk}"
    assert ev.open_alerts[0].evidence == (f"Appointment/{early.pk}", dose_ref)
    assert "is 30 h after the dose of" in ev.open_alerts[0].message
    assert "(minimum interval 44 h)" in ev.open_alerts[0].message

    # the prescriber's inbox, with the booking's time as its age
    items = [a for a in inbox_alerts(prescriber, clinic) if a.kind == "safety"]
    assert [(a.ref, a.title, a.raised_at) for a in items] == [
        ("early_request", "Session requested early", early.created_at)
    ]
    # the chart and the dose screen (run sheet) of the booked session show it; it blocks nothing
    html = client_as(nurse).get(f"/treatment/sessions/{early.pk}/").content.decode()
    assert "Safety alert: Session requested early." in html
    assert client_as(nurse).get(f"/treatment/sessions/{ok.pk}/").status_code == 200

    actions.do_record_surveillance_decision(
        actor=prescriber, patient_id=patient.pk, alert_code="early_request", decision="continue",
        reason="Travel next week; the earlier session agreed with the patient",
    )  # fmt: skip
    assert selectors.evaluate_patient(patient).open_alerts == ()
    # a cancelled early booking raises nothing
    early.status = DosingSession.Status.CANCELLED
    early.save(update_fields=["status"])
    _book(patient, course, 20, dose_at)
    assert [f.code for f in selectors.evaluate_patient(patient).open_alerts] == ["early_request"]
