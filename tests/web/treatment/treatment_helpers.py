"""Fixtures-as-functions for treatment web tests: cleared screening, a course, an order, a session at a state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import (
    Administration,
    DosingSession,
    Order,
    SessionTransition,
    TreatmentCourse,
    VitalSign,
)


def counts() -> dict[str, int]:
    return {
        "courses": TreatmentCourse.objects.count(),
        "orders": Order.objects.count(),
        "sessions": DosingSession.objects.count(),
        "admins": Administration.objects.count(),
        "vitals": VitalSign.objects.count(),
        "transitions": SessionTransition.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def snapshot(session: DosingSession) -> dict[str, Any]:
    session.refresh_from_db()
    return {f.name: getattr(session, f.attname) for f in DosingSession._meta.concrete_fields}


def start(
    prescriber: Any, patient: Any, protocol: str = "iv-racemic-depression", **kw: Any
) -> TreatmentCourse:
    return A.do_start_course(
        actor=prescriber, patient_id=patient.pk, protocol_id=protocol, indication="trd", **kw
    )


def session_for(
    prescriber: Any, nurse: Any, patient: Any, protocol: str = "iv-racemic-depression", **order_kw: Any
) -> DosingSession:
    enrolled = protocol.startswith("esketamine")
    course = start(
        prescriber,
        patient,
        protocol,
        rems_patient_enrolled=enrolled,
        rems_patient_id="R1" if enrolled else "",
    )
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now(), **order_kw)
    return A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=timezone.now())


PRE_OK = {
    "fasting_confirmed": True,
    "transport_confirmed": True,
    "escort_name": "Sam",
    "pregnancy_test": "negative",
    "rems_enrolment_verified": True,
}


def to_pre_dose(nurse: Any, s: DosingSession, **vit: int) -> DosingSession:
    A.do_check_in(actor=nurse, session_id=s.pk)
    values = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98, "respiratory_rate": 14, **vit}
    A.do_record_vitals(
        actor=nurse, session_id=s.pk, values=values, taken_at=timezone.now() - dt.timedelta(minutes=1)
    )
    return A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
