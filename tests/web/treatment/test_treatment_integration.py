"""Integration with the real screening app (no stubs): screening cleared -> consent -> course start, and the
post-dose link scheduling that runs in the dose action's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.assessments.models import RemoteLink, RemoteSchedule
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.screening import actions as SA
from ketaclinic.web.screening.models import ScreeningRun
from ketaclinic.web.screening.selectors import consent_on_file, screening_is_cleared
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import Administration, DosingSession, TreatmentCourse

from .treatment_helpers import PRE_OK, counts, stock_at

pytestmark = pytest.mark.django_db


def clear_screening(prescriber: Any, patient: Any, route: str = "iv") -> ScreeningRun:
    """Record the intake the screening rules need and clear every finding that needs a decision."""
    SA.do_record_blood_pressure(actor=prescriber, patient_id=patient.pk, systolic=122, diastolic=78)
    SA.do_record_intake_weight(actor=prescriber, patient_id=patient.pk, weight_kg="72.5")
    run = SA.do_run_screening(actor=prescriber, patient_id=patient.pk, route=route)
    for f in run.findings:
        if f["level"] != "caution":
            SA.do_review_finding(
                actor=prescriber,
                patient_id=patient.pk,
                run_id=run.pk,
                finding_code=str(f["code"]),
                reason="Reviewed the intake with the patient today.",
            )
    return run


def test_course_start_with_real_screening_and_consent(prescriber: Any, patient: Any, site: Any) -> None:
    # Nothing on file: the real selectors say not cleared, so the course is refused and nothing is written.
    assert screening_is_cleared(patient) is False
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_start_course(
            actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="trd"
        )
    assert exc.value.fields == {"patient": ["screening is not cleared for this patient"]}
    assert counts() == before

    clear_screening(prescriber, patient)
    assert screening_is_cleared(patient) is True

    # Cleared, but no consent yet.
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_start_course(
            actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="trd"
        )
    assert exc.value.fields == {
        "patient": ["no signed consent on file for treatment-resistant depression with ketamine_racemic"]
    }
    assert counts() == before

    # Consent for esketamine does not cover a racemic ketamine course.
    SA.do_record_consent(
        actor=prescriber, patient_id=patient.pk, indication="trd", product="esketamine_nasal"
    )
    with pytest.raises(ValidationFailed):
        A.do_start_course(
            actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="trd"
        )
    assert TreatmentCourse.objects.count() == 0

    # Racemic ketamine for TRD is off-label in the US: the consent needs the patient's acknowledgement.
    SA.do_record_consent(
        actor=prescriber,
        patient_id=patient.pk,
        indication="trd",
        product="ketamine_racemic",
        patient_acknowledged_off_label=True,
    )
    assert consent_on_file(patient, indication="trd", product="ketamine_racemic") is True
    course = A.do_start_course(
        actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="trd"
    )
    assert (course.protocol_id, course.indication, course.status) == (
        "iv-racemic-depression",
        "trd",
        "active",
    )
    assert AuditEvent.objects.filter(action="course.start", object_id=str(course.pk)).count() == 1

    # The esketamine consent on file allows an esketamine course too.
    c2 = A.do_start_course(
        actor=prescriber,
        patient_id=patient.pk,
        protocol_id="esketamine-trd",
        indication="trd",
        rems_patient_enrolled=True,
        rems_patient_id="R-1",
    )
    assert c2.protocol_id == "esketamine-trd"


def test_unknown_indication_names_the_field(prescriber: Any, patient: Any) -> None:
    clear_screening(prescriber, patient)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_start_course(
            actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="TRD"
        )
    assert list(exc.value.fields) == ["indication"]
    assert exc.value.fields["indication"][0].startswith("must be one of trd, mdd_acute_si, mdd")
    assert counts() == before


def _ready_session(prescriber: Any, nurse: Any, patient: Any) -> DosingSession:
    clear_screening(prescriber, patient)
    SA.do_record_consent(
        actor=prescriber,
        patient_id=patient.pk,
        indication="trd",
        product="ketamine_racemic",
        patient_acknowledged_off_label=True,
    )
    course = A.do_start_course(
        actor=prescriber, patient_id=patient.pk, protocol_id="iv-racemic-depression", indication="trd"
    )
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now())
    s = A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=timezone.now())
    A.do_check_in(actor=nurse, session_id=s.pk)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98, "respiratory_rate": 14},
        taken_at=timezone.now() - dt.timedelta(minutes=1),
    )
    s = A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
    lot, location = stock_at(s.site, "ketamine")
    A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=lot.pk, location_id=location.pk)
    return s


def _post_dose_schedule(patient: Any, prescriber: Any) -> RemoteSchedule:
    return RemoteSchedule.objects.create(
        clinic=patient.clinic,
        patient=patient,
        instrument_id="phq9",
        kind=RemoteSchedule.Kind.POST_DOSE,
        delay_hours=24,
        valid_hours=48,
        active=True,
        created_by=prescriber,
    )


def test_dose_and_post_dose_links_are_stored_together(prescriber: Any, nurse: Any, patient: Any) -> None:
    s = _ready_session(prescriber, nurse, patient)
    _post_dose_schedule(patient, prescriber)
    when = timezone.now().replace(microsecond=0)
    admin = A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=s.order.dose_mg, lot_number="KET-L1", administered_at=when
    )
    links = list(RemoteLink.objects.filter(patient=patient))
    assert len(links) == 1
    assert links[0].available_from == when + dt.timedelta(hours=24)
    assert Administration.objects.filter(pk=admin.pk).exists()


def test_failed_link_scheduling_rolls_back_the_dose(
    prescriber: Any, nurse: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _ready_session(prescriber, nurse, patient)
    _post_dose_schedule(patient, prescriber)
    from ketaclinic.web.assessments import actions as assessment_actions

    def boom(**kw: Any) -> None:
        raise RuntimeError("link store unavailable")

    monkeypatch.setattr(assessment_actions, "do_schedule_post_dose_links", boom)
    before = counts()
    links_before = RemoteLink.objects.count()
    with pytest.raises(RuntimeError):
        A.do_record_administration(actor=nurse, session_id=s.pk, dose_mg=s.order.dose_mg, lot_number="KET-L1")
    assert counts() == before
    assert RemoteLink.objects.count() == links_before
    s.refresh_from_db()
    assert (s.status, s.first_dose_at) == ("pre_dose_checks", None)
