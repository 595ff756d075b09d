"""Treatment actions: courses, orders with the dose guard, every session transition allowed and refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from tests.web.treatment.treatment_helpers import (
    PRE_OK,
    counts,
    session_for,
    snapshot,
    start,
    stock_at,
    to_pre_dose,
    waste_remainder,
)

from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment import selectors
from ketaclinic.web.treatment.actions import courses
from ketaclinic.web.treatment.models import DosingSession, RemsMonitoringForm, SessionAlert

pytestmark = pytest.mark.django_db
S = DosingSession.Status
NOW = timezone.now


def test_course_requires_cleared_screening(
    prescriber: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(courses, "_screening_cleared", lambda p: False)
    monkeypatch.setattr(courses, "_consent_on_file", lambda p, pr, ind: True)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        start(prescriber, patient)
    assert exc.value.fields == {"patient": ["screening is not cleared for this patient"]}
    assert counts() == before


def test_course_requires_consent(prescriber: Any, patient: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(courses, "_screening_cleared", lambda p: True)
    monkeypatch.setattr(courses, "_consent_on_file", lambda p, pr, ind: False)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        start(prescriber, patient)
    assert exc.value.fields == {
        "patient": ["no signed consent on file for treatment-resistant depression with ketamine_racemic"]
    }
    assert counts() == before


def test_nurse_cannot_start_course_or_sign(cleared: None, nurse: Any, prescriber: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(PermissionDeniedError):
        start(nurse, patient)
    assert counts() == before
    course = start(prescriber, patient)
    before = counts()
    with pytest.raises(PermissionDeniedError):
        A.do_sign_order(actor=nurse, course_id=course.pk, planned_for=NOW())
    assert counts() == before


def test_order_computes_weight_based_dose_and_states_the_weight(
    cleared: None, prescriber: Any, patient: Any
) -> None:
    course = start(prescriber, patient)
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=NOW())
    w = patient.latest_weight()
    assert (order.dose_mg, order.dose_mg_per_kg, order.duration_min) == (
        Decimal("35.00"),
        Decimal("0.500"),
        40,
    )
    assert (order.weight_kg, order.weight_measured_at, order.weight_measurement_id) == (
        w.weight_kg,
        w.measured_at,
        w.pk,
    )
    assert (order.guard_decision, order.guard_findings, order.signed_by) == ("allow", [], prescriber)


def test_blocked_order_is_not_saved(cleared: None, prescriber: Any, patient: Any) -> None:
    course = start(prescriber, patient)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=NOW(), dose_mg=80)
    assert exc.value.fields["dose_mg"][0].startswith("dose_exceeds_max:")
    assert counts() == before


def test_warned_order_needs_reason(cleared: None, prescriber: Any, patient: Any) -> None:
    course = start(prescriber, patient)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=NOW(), dose_mg=56)
    assert list(exc.value.fields) == ["override_reason"]
    assert counts() == before
    order = A.do_sign_order(
        actor=prescriber,
        course_id=course.pk,
        planned_for=NOW(),
        dose_mg=56,
        override_reason="partial response at 0.5 mg/kg",
    )
    assert order.guard_decision == "warn" and order.guard_findings[0]["code"] == "dose_above_protocol"


def test_order_without_weight_is_refused(cleared: None, prescriber: Any, patient: Any) -> None:
    patient.weights.all().delete()
    course = start(prescriber, patient)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=NOW())
    assert "weight" in exc.value.fields
    assert counts() == before


# ---- state machine: every transition allowed, and refused with nothing changed ---------------------

ACTIONS = {
    "check_in": lambda u, s: A.do_check_in(actor=u, session_id=s.pk),
    "pre_dose": lambda u, s: A.do_pass_pre_dose_checks(actor=u, session_id=s.pk, data=PRE_OK),
    "dose": lambda u, s: A.do_record_administration(
        actor=u, session_id=s.pk, dose_mg=35, lot_number="KET-L1", duration_min=40
    ),
    "end_dosing": lambda u, s: A.do_end_dosing(actor=u, session_id=s.pk),
    "ready": lambda u, s: A.do_mark_discharge_ready(actor=u, session_id=s.pk, escort_present=True),
    "discharge": lambda u, s: A.do_discharge(actor=u, session_id=s.pk),
}
ALLOWED_FROM = {
    "check_in": {S.SCHEDULED},
    "pre_dose": {S.CHECKED_IN},
    "dose": {S.PRE_DOSE_CHECKS, S.DOSING},
    "end_dosing": {S.DOSING},
    "ready": {S.MONITORING},
    "discharge": {S.DISCHARGE_READY},
}


def _advance_to(status: str, prescriber: Any, nurse: Any, patient: Any) -> DosingSession:
    s = session_for(prescriber, nurse, patient)
    if status == S.CANCELLED:
        return A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    if status == S.SCHEDULED:
        return s
    if status == S.CHECKED_IN:
        A.do_check_in(actor=nurse, session_id=s.pk)
        A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 120, "diastolic": 80})
        return s
    to_pre_dose(nurse, s)
    if status == S.PRE_DOSE_CHECKS:
        return s
    t0 = NOW() - dt.timedelta(minutes=80)
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=35, lot_number="KET-L1", duration_min=40, administered_at=t0
    )
    if status == S.DOSING:
        return s
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=40))
    if status == S.MONITORING:
        return s
    waste_remainder(nurse, s, prescriber)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 122, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    if status == S.DISCHARGE_READY:
        return s
    A.do_discharge(actor=nurse, session_id=s.pk)
    return s


@pytest.mark.parametrize("status", list(S.values))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_transition_matrix(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, status: str, action: str
) -> None:
    if action == "dose" and status == S.DOSING:
        pytest.skip("a second IV dose in one session is refused by its own rule (tested below)")
    s = _advance_to(status, prescriber, nurse, patient)
    assert snapshot(s)["status"] == status
    if status in ALLOWED_FROM[action]:
        if (
            action == "ready"
        ):  # discharge criteria: recent vitals near baseline and MOAA/S 5; ledger reconciled
            waste_remainder(nurse, s, prescriber)
            A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 120, "diastolic": 80})
            A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
        ACTIONS[action](nurse, s)
        assert snapshot(s)["status"] != status
        return
    before, snap = counts(), snapshot(s)
    with pytest.raises(ConflictError) as exc:
        ACTIONS[action](nurse, s)
    assert exc.value.fields == {"status": [f"session is {S(status).label}"]}
    assert counts() == before and snapshot(s) == snap


def test_whole_iv_session_is_audited_step_by_step(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _advance_to(S.DISCHARGED, prescriber, nurse, patient)
    assert [(t.from_status, t.to_status) for t in s.transitions.all()] == [
        ("scheduled", "checked_in"),
        ("checked_in", "pre_dose_checks"),
        ("pre_dose_checks", "dosing"),
        ("dosing", "monitoring"),
        ("monitoring", "discharge_ready"),
        ("discharge_ready", "discharged"),
    ]
    from ketaclinic.web.audit.models import AuditEvent

    actions = list(
        AuditEvent.objects.filter(object_id=str(s.pk), action__startswith="session.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "session.schedule",
        "session.checked_in",
        "session.pre_dose_checks",
        "session.dosing",
        "session.monitoring",
        "session.discharge_ready",
        "session.discharged",
    ]
    assert not RemsMonitoringForm.objects.exists()


def test_second_iv_dose_in_session_is_refused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _advance_to(S.DOSING, prescriber, nurse, patient)
    before, snap = counts(), snapshot(s)
    with pytest.raises(ValidationFailed) as exc:
        ACTIONS["dose"](nurse, s)
    assert exc.value.fields == {"dose_mg": ["this session's dose is already recorded"]}
    assert counts() == before and snapshot(s) == snap


# ---- pre-dose checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fasting_confirmed": False}, "fasting_confirmed"),
        ({"transport_confirmed": False}, "transport_confirmed"),
        ({"escort_name": ""}, "transport_confirmed"),
        ({"pregnancy_test": "not_done"}, "pregnancy_test"),
        ({"pregnancy_test": "positive"}, "pregnancy_test"),
    ],
)
def test_pre_dose_check_refusals(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, change: dict, field: str
) -> None:
    s = _advance_to(S.CHECKED_IN, prescriber, nurse, patient)
    A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 120, "diastolic": 80})
    before, snap = counts(), snapshot(s)
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data={**PRE_OK, **change})
    assert list(exc.value.fields) == [field]
    assert counts() == before and snapshot(s) == snap


def test_pre_dose_requires_baseline_vitals(cleared: None, prescriber: Any, nurse: Any, patient: Any) -> None:
    s = session_for(prescriber, nurse, patient)
    A.do_check_in(actor=nurse, session_id=s.pk)
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
    assert list(exc.value.fields) == ["vitals"]


def test_high_baseline_bp_needs_prescriber_attestation(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _advance_to(S.CHECKED_IN, prescriber, nurse, patient)
    A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 150, "diastolic": 85})
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
    assert exc.value.fields["vitals"][0].startswith("Systolic BP 150 mmHg > 140 mmHg")
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(
            actor=nurse, session_id=s.pk, data={**PRE_OK, "bp_attestation_reason": "ok"}
        )
    assert list(exc.value.fields) == ["bp_attestation_reason"]
    A.do_pass_pre_dose_checks(
        actor=prescriber, session_id=s.pk, data={**PRE_OK, "bp_attestation_reason": "white coat"}
    )
    assert snapshot(s)["status"] == S.PRE_DOSE_CHECKS


def test_unacknowledged_suicide_alert_blocks_dosing(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _advance_to(S.CHECKED_IN, prescriber, nurse, patient)
    A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 120, "diastolic": 80})
    monkeypatch.setattr(selectors, "_suicide_alert_open", lambda p: True)
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
    assert list(exc.value.fields) == ["suicide_alert"]


# ---- flowsheet thresholds ---------------------------------------------------------------------------


def test_critical_vital_during_infusion_raises_alert_and_pauses(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _advance_to(S.DOSING, prescriber, nurse, patient)
    _, alerts = A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 185, "diastolic": 95})
    assert [(a.code, a.level, a.paused_infusion) for a in alerts] == [
        ("sbp_high", "critical", True),
        ("sbp_rise", "warn", False),
    ]
    assert snapshot(s)["infusion_paused"] is True
    _, alerts = A.do_record_vitals(actor=nurse, session_id=s.pk, values={"spo2": 93})
    assert [(a.code, a.level, a.paused_infusion) for a in alerts] == [("spo2_borderline", "warn", False)]
    assert SessionAlert.objects.filter(session=s, acknowledged_at__isnull=True).count() == 3


def test_normal_vitals_raise_no_alert_and_bad_values_are_refused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _advance_to(S.DOSING, prescriber, nurse, patient)
    _, alerts = A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 130, "diastolic": 82})
    assert alerts == []
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 1300, "diastolic": 82})
    assert exc.value.fields == {"systolic": ["must be between 40 and 300"]}
    assert counts() == before


# ---- esketamine: device by device, 2-hour rule, REMS form ---------------------------------------------


def _esk_session(prescriber: Any, nurse: Any, patient: Any, first_min_ago: int) -> DosingSession:
    s = session_for(prescriber, nurse, patient, "esketamine-trd")
    to_pre_dose(nurse, s)
    t0 = NOW() - dt.timedelta(minutes=first_min_ago)
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=28, lot_number="ESK1", administered_at=t0
    )
    A.do_record_administration(
        actor=nurse,
        session_id=s.pk,
        dose_mg=28,
        lot_number="ESK1",
        administered_at=t0 + dt.timedelta(minutes=5),
    )
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=5))
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 135, "diastolic": 85},
        taken_at=t0 + dt.timedelta(minutes=40),
    )
    A.do_record_vitals(
        actor=nurse, session_id=s.pk, values={"systolic": 124, "diastolic": 80, "heart_rate": 72, "spo2": 98}
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    return s


def test_esketamine_devices_rest_and_multiples(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient, "esketamine-trd")
    to_pre_dose(nurse, s)
    t0 = NOW() - dt.timedelta(minutes=30)
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_administration(
            actor=nurse, session_id=s.pk, dose_mg=56, lot_number="ESK1", administered_at=t0
        )
    assert exc.value.fields == {"dose_mg": ["record one 28 mg device at a time"]}
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=28, lot_number="ESK1", administered_at=t0
    )
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        A.do_record_administration(
            actor=nurse,
            session_id=s.pk,
            dose_mg=28,
            lot_number="ESK1",
            administered_at=t0 + dt.timedelta(minutes=4),
        )
    assert list(exc.value.fields) == ["administered_at"]
    assert counts() == before
    A.do_record_administration(
        actor=nurse,
        session_id=s.pk,
        dose_mg=28,
        lot_number="ESK1",
        administered_at=t0 + dt.timedelta(minutes=5),
    )
    # The session held exactly the two ordered devices; a third device needs stock first, then the guard decides.
    lot, location = stock_at(s.site, "esketamine")
    A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=lot.pk, location_id=location.pk, quantity="1")
    before = counts()
    with pytest.raises(ValidationFailed) as exc:  # a third device exceeds the 56 mg order: blocked
        A.do_record_administration(
            actor=nurse,
            session_id=s.pk,
            dose_mg=28,
            lot_number="ESK1",
            administered_at=t0 + dt.timedelta(minutes=10),
        )
    assert "deviates_from_order" in exc.value.fields["dose_mg"][0]
    assert counts() == before
    assert [a.device_number for a in s.administrations.all()] == [1, 2]


def test_esketamine_early_discharge_is_refused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _esk_session(prescriber, nurse, patient, first_min_ago=100)
    before, snap = counts(), snapshot(s)
    with pytest.raises(ConflictError) as exc:
        A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    assert list(exc.value.fields) == ["min_observation_not_met"]
    assert "100 min since the first dose; at least 120 min required" in exc.value.message
    assert counts() == before and snapshot(s) == snap


def test_esketamine_discharge_after_2h_makes_rems_form(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _esk_session(prescriber, nurse, patient, first_min_ago=125)
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True, rems_ready_minutes=90)
    A.do_discharge(actor=nurse, session_id=s.pk)
    form = RemsMonitoringForm.objects.get(session=s)
    assert form.due_on == timezone.localdate() + dt.timedelta(days=7)
    d = form.data
    assert d["4_treatment"]["dose"] == "56 mg" and d["4_treatment"]["lot_numbers"] == ["ESK1"]
    assert d["8_blood_pressure"] == {
        "before_administration": "120/80",
        "at_40_min": "135/85",
        "before_end": "124/80",
    }
    assert d["5_treatment_duration_min"] >= 125 and d["6_ready_to_leave_min"] == 90
    assert d["1_patient"]["first_treatment"] is True and d["1_patient"]["enrolled"] is True
    from ketaclinic.web.treatment.rems import render_rems_pdf

    assert render_rems_pdf(form).startswith(b"%PDF")


def test_discharge_refused_with_unresolved_side_effect_and_without_escort(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = _esk_session(prescriber, nurse, patient, first_min_ago=130)
    se = A.do_record_side_effect(actor=nurse, session_id=s.pk, code="dissociation", severity="mild")
    with pytest.raises(ConflictError) as exc:
        A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=False)
    assert list(exc.value.fields) == ["side_effect_unresolved", "no_escort"]
    A.do_resolve_side_effect(actor=nurse, side_effect_id=se.pk)
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    assert snapshot(s)["status"] == S.DISCHARGE_READY


def test_rems_enrolment_required_for_esketamine(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = session_for(prescriber, nurse, patient, "esketamine-trd")
    A.do_check_in(actor=nurse, session_id=s.pk)
    A.do_record_vitals(actor=nurse, session_id=s.pk, values={"systolic": 120, "diastolic": 80})
    with pytest.raises(ValidationFailed) as exc:
        A.do_pass_pre_dose_checks(
            actor=nurse, session_id=s.pk, data={**PRE_OK, "rems_enrolment_verified": False}
        )
    assert list(exc.value.fields) == ["rems_enrolment_verified"]
