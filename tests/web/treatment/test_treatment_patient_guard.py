"""The web dose guard uses the chart: the previous weight (a jump of more than 10 % in 30 days warns) and the
birth date (esketamine under 18 is blocked, racemic ketamine under 18 warns); refusals store nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from tests.web.treatment.treatment_helpers import counts, start

from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.patients.models import WeightMeasurement
from ketaclinic.web.treatment import actions as A

pytestmark = pytest.mark.django_db


def _weigh(patient: Any, kg: str, days_ago: float) -> None:
    WeightMeasurement.objects.create(
        patient=patient, weight_kg=Decimal(kg), measured_at=timezone.now() - dt.timedelta(days=days_ago)
    )


def test_weight_typed_in_pounds_needs_a_reason_before_the_order(
    cleared: None, prescriber: Any, patient: Any
) -> None:
    _weigh(patient, "154.0", 0.01)  # 70 kg yesterday, "154" today: pounds in the kilogram field
    course = start(prescriber, patient)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now(), dose_mg=35)
    assert list(exc.value.fields) == ["override_reason"]
    assert "weight_changed" in exc.value.fields["override_reason"][0]
    assert counts() == before
    order = A.do_sign_order(
        actor=prescriber,
        course_id=course.pk,
        planned_for=timezone.now(),
        dose_mg=35,
        override_reason="weighed again: 154 kg is right",
    )
    assert [f["code"] for f in order.guard_findings] == ["weight_changed"]
    assert "away from 70 kg recorded on" in order.guard_findings[0]["message"]


def test_a_small_or_old_weight_change_is_quiet(cleared: None, prescriber: Any, patient: Any) -> None:
    _weigh(patient, "76.0", 0.01)  # within 10 % of yesterday's 70 kg
    course = start(prescriber, patient)
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now(), dose_mg=38)
    assert order.guard_decision == "allow"


def test_esketamine_for_a_17_year_old_is_blocked(cleared: None, prescriber: Any, patient: Any) -> None:
    today = timezone.localdate()
    patient.birth_date = today.replace(year=today.year - 17)
    patient.save(update_fields=["birth_date"])
    course = start(prescriber, patient, "esketamine-trd", rems_patient_enrolled=True, rems_patient_id="R1")
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now())
    assert exc.value.fields["dose_mg"][0].startswith("age_below_label: Patient is 17 on ")
    assert counts() == before


def test_racemic_ketamine_for_a_16_year_old_needs_a_reason(
    cleared: None, prescriber: Any, patient: Any
) -> None:
    today = timezone.localdate()
    patient.birth_date = today.replace(year=today.year - 16)
    patient.save(update_fields=["birth_date"])
    course = start(prescriber, patient)
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now())
    assert "age_under_18" in exc.value.fields["override_reason"][0]


def test_pain_infusion_over_a_day_is_refused_and_nothing_is_stored(
    cleared: None, prescriber: Any, patient: Any
) -> None:
    course = start(prescriber, patient, "iv-ketamine-chronic-pain")
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(
            actor=prescriber, course_id=course.pk, planned_for=timezone.now(), dose_mg=840, duration_min=1440
        )
    refused = exc.value.fields["dose_mg"]
    assert [m.split(":")[0] for m in refused] == ["duration_exceeded", "session_total_exceeded"]
    assert counts() == before
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now())
    assert (float(order.dose_mg), order.duration_min, order.guard_decision) == (98.0, 240, "allow")


def test_depression_push_is_refused(cleared: None, prescriber: Any, patient: Any) -> None:
    course = start(prescriber, patient)
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(
            actor=prescriber, course_id=course.pk, planned_for=timezone.now(), dose_mg=35, duration_min=2
        )
    assert [m.split(":")[0] for m in exc.value.fields["dose_mg"]] == ["bolus_exceeded"]
