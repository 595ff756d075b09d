"""Treatment demo data: cleared screening, consent, courses and completed sessions, all made through the real actions.

Every record is written by the same audited actions the clinic uses (screening intake and review, consent, course,
signed order under the dose guard, the session state machine). Past sessions run on a simulated clock
(`django.utils.timezone.now` set to the moment each step happened) so their timestamps, dose-guard history,
discharge checks and REMS deadlines are consistent; the demo clinic is synthetic (never real people).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from unittest import mock

from django.utils import timezone

from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import RemsMonitoringForm


@contextlib.contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    """Run the enclosed actions as if it were `at`."""
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _eligible(ctx: Any, *, rems_site: bool, count: int, skip: set[int]) -> list[Any]:
    from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert

    out = []
    for p in ctx.patients:
        if p.pk in skip or p.latest_weight() is None or has_unacknowledged_suicide_alert(p):
            continue
        if rems_site and not (p.home_site and p.home_site.rems_certified):
            continue
        out.append(p)
        if len(out) == count:
            break
    return out


def clear_screening(patient: Any, prescriber: Any, route: str, at: dt.datetime, cosigner: Any = None) -> None:
    """Record the intake the rules need, screen, and clear every finding that needs a prescriber's decision
    (an absolute-finding override is co-signed by `cosigner`)."""
    from ketaclinic.web.screening import actions as screening

    with _clock(at):
        weight = patient.latest_weight()
        screening.do_record_blood_pressure(
            actor=prescriber, patient_id=patient.pk, systolic=118, diastolic=76, measured_at=at
        )
        screening.do_record_intake_weight(
            actor=prescriber, patient_id=patient.pk, weight_kg=weight.weight_kg, measured_at=at
        )
        run = screening.do_run_screening(actor=prescriber, patient_id=patient.pk, route=route)
        for f in run.findings:
            if f["level"] == "caution":
                continue
            review = screening.do_review_finding(
                actor=prescriber,
                patient_id=patient.pk,
                run_id=run.pk,
                finding_code=str(f["code"]),
                reason="Reviewed with the patient at intake; acceptable for supervised treatment.",
            )
            if f["level"] == "absolute" and cosigner is not None:
                screening.do_cosign_override(actor=cosigner, patient_id=patient.pk, review_id=review.pk)


def consent_and_course(patient: Any, prescriber: Any, protocol_id: str, product: str, at: dt.datetime) -> Any:
    from ketaclinic.web.screening.actions import do_record_consent

    esk = protocol_id.startswith("esketamine")
    with _clock(at):
        do_record_consent(
            actor=prescriber,
            patient_id=patient.pk,
            indication="trd",
            product=product,
            patient_acknowledged_off_label=not esk,
        )
        return A.do_start_course(
            actor=prescriber,
            patient_id=patient.pk,
            protocol_id=protocol_id,
            indication="trd",
            rems_patient_enrolled=esk,
            rems_patient_id=f"REMS-P-{patient.pk:05d}" if esk else "",
        )


def _vitals(nurse: Any, sid: int, at: dt.datetime, sbp: int, dbp: int, hr: int, spo2: int = 98) -> None:
    with _clock(at):
        A.do_record_vitals(
            actor=nurse,
            session_id=sid,
            taken_at=at,
            values={
                "systolic": sbp,
                "diastolic": dbp,
                "heart_rate": hr,
                "spo2": spo2,
                "respiratory_rate": 14,
            },
        )


def _scheduled(course: Any, prescriber: Any, nurse: Any, when: dt.datetime, signed_at: dt.datetime) -> Any:
    with _clock(signed_at):
        order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=when)
        return A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=when)


def _pre_dose(nurse: Any, s: Any, t: dt.datetime) -> None:
    with _clock(t):
        A.do_check_in(actor=nurse, session_id=s.pk)
    _vitals(nurse, s.pk, t + dt.timedelta(minutes=3), 118, 76, 72)
    with _clock(t + dt.timedelta(minutes=6)):
        A.do_pass_pre_dose_checks(
            actor=nurse,
            session_id=s.pk,
            data={
                "fasting_confirmed": True,
                "transport_confirmed": True,
                "escort_name": s.patient.emergency_contact_name or "Family member",
                "pregnancy_test": "negative",
                "rems_enrolment_verified": True,
            },
        )


def _finish(nurse: Any, s: Any, last_vitals: dt.datetime) -> None:
    t = last_vitals + dt.timedelta(minutes=2)
    with _clock(t):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5, taken_at=t)
        A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    with _clock(t + dt.timedelta(minutes=3)):
        A.do_discharge(actor=nurse, session_id=s.pk)


def run_iv_session(s: Any, nurse: Any, t: dt.datetime) -> None:
    """Check-in, pre-dose checks, a 40-min infusion with vitals every 10 min, 30+ min observation, discharge."""
    _pre_dose(nurse, s, t)
    start = t + dt.timedelta(minutes=10)
    with _clock(start):
        A.do_record_administration(
            actor=nurse,
            session_id=s.pk,
            dose_mg=s.order.dose_mg,
            lot_number="KET-DEMO-24A",
            administered_at=start,
            duration_min=40,
        )
    for k, (sbp, dbp, hr) in enumerate([(126, 80, 76), (132, 84, 78), (128, 82, 76), (124, 80, 74)], 1):
        _vitals(nurse, s.pk, start + dt.timedelta(minutes=10 * k - 1), sbp, dbp, hr)
    with _clock(start + dt.timedelta(minutes=40)):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="cadss", score=14)
        A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=start + dt.timedelta(minutes=40))
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=55), 122, 78, 72)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=72), 120, 78, 72)
    _finish(nurse, s, start + dt.timedelta(minutes=72))


def run_esketamine_session(s: Any, nurse: Any, t: dt.datetime) -> None:
    """Devices 5 min apart, BP at 40 min, observation until 2 h after the first device, discharge."""
    _pre_dose(nurse, s, t)
    start = t + dt.timedelta(minutes=10)
    devices = int(s.order.dose_mg // 28)
    for d in range(devices):
        at = start + dt.timedelta(minutes=5 * d)
        with _clock(at):
            A.do_record_administration(
                actor=nurse, session_id=s.pk, dose_mg=28, lot_number="SPR-DEMO-7731", administered_at=at
            )
    with _clock(start + dt.timedelta(minutes=5 * devices)):
        A.do_end_dosing(actor=nurse, session_id=s.pk)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=40), 134, 84, 78)
    with _clock(start + dt.timedelta(minutes=41)):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=4)
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="cadss", score=11)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=80), 126, 80, 74)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=118), 120, 78, 72)
    _finish(nurse, s, start + dt.timedelta(minutes=119))


def seed(ctx: Any) -> None:
    """Three IV and two esketamine patients with completed sessions, plus today's sessions for the board."""
    prescriber, prescriber2 = ctx.staff["dr.patel"], ctx.staff["dr.okafor"]
    nurse, nurse2 = ctx.staff["nurse.kim"], ctx.staff["nurse.silva"]
    now = ctx.now
    day = dt.timedelta(days=1)
    used: set[int] = set()
    esk = _eligible(ctx, rems_site=True, count=2, skip=used)
    used |= {p.pk for p in esk}
    iv = _eligible(ctx, rems_site=False, count=3, skip=used)

    for i, patient in enumerate(iv):
        doc = prescriber if i % 2 == 0 else prescriber2
        clear_screening(patient, doc, "iv", now - 21 * day, prescriber2 if doc is prescriber else prescriber)
        course = consent_and_course(patient, doc, "iv-racemic-depression", "ketamine_racemic", now - 20 * day)
        for k in range(3):
            t = now - (14 - 3.5 * k) * day - dt.timedelta(hours=5)
            s = _scheduled(course, doc, nurse, t, t - 2 * day)
            run_iv_session(s, nurse if k % 2 == 0 else nurse2, t)
        # Today's session: the first patient is checked in, the others are scheduled.
        s = _scheduled(course, doc, nurse, now + dt.timedelta(minutes=20 * i), now - 3 * day)
        if i == 0:
            A.do_check_in(actor=nurse, session_id=s.pk)

    for i, patient in enumerate(esk):
        clear_screening(patient, prescriber, "intranasal", now - 21 * day, prescriber2)
        course = consent_and_course(patient, prescriber, "esketamine-trd", "esketamine_nasal", now - 20 * day)
        for k, mg in enumerate(["56", "56", "84"][: 2 + i]):
            t = now - (13 - 4 * k) * day - dt.timedelta(hours=4)
            with _clock(t - 2 * day):
                order = A.do_sign_order(
                    actor=prescriber, course_id=course.pk, planned_for=t, dose_mg=Decimal(mg)
                )
                s = A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=t)
            run_esketamine_session(s, nurse, t)
        _scheduled(course, prescriber, nurse, now + dt.timedelta(hours=1, minutes=20 * i), now - 2 * day)

    # One REMS form already submitted, the rest due on the dashboard.

    first = (
        RemsMonitoringForm.objects.filter(session__clinic=ctx.clinic).order_by("generated_at", "pk").first()
    )
    if first is not None:
        with _clock(first.generated_at + dt.timedelta(days=1)):
            A.do_submit_rems_form(actor=nurse, form_id=first.pk, reference="REMS-SUB-0001")
