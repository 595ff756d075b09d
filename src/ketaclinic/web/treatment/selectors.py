"""Reads of the treatment domain: courses, sessions, flowsheets, escalation signals, REMS forms due."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from ketaclinic.core.protocols import get_protocol
from ketaclinic.web.treatment.models import DosingSession, RemsMonitoringForm, TreatmentCourse


def protocols_for_clinic(clinic: Any) -> list[Any]:
    """The packaged protocols followed by the clinic's own active ones (each a core `Protocol`)."""
    from ketaclinic.core.protocols import load_protocols, parse_protocol
    from ketaclinic.web.treatment.models import ClinicProtocol

    out = list(load_protocols())
    for cp in ClinicProtocol.objects.filter(clinic=clinic, active=True).order_by("protocol_id"):
        out.append(parse_protocol(cp.definition))
    return out


def courses_for_patient(patient: Any) -> QuerySet[TreatmentCourse]:
    return TreatmentCourse.objects.filter(patient=patient).prefetch_related("orders")


def sessions_for_patient(patient: Any) -> QuerySet[DosingSession]:
    return DosingSession.objects.filter(patient=patient).select_related("order", "course")


def escalation_signals(patient: Any) -> list[str]:
    """Dose-creep / shortening-interval findings on the patient's most recent guarded doses (for the chart)."""
    from ketaclinic.core.protocols import DoseRequest, PatientFacts, check_dose
    from ketaclinic.web.treatment.actions import dose_history

    history = sorted(dose_history(patient), key=lambda d: d.time)
    weight = patient.latest_weight()
    course = TreatmentCourse.objects.filter(patient=patient).first()
    if len(history) < 2 or weight is None or course is None:
        return []
    try:
        protocol = get_protocol(course.protocol_id)
    except KeyError:
        return []
    last = history[-1]
    if last.drug != protocol.drug:
        return []
    res = check_dose(
        DoseRequest(PatientFacts(float(weight.weight_kg)), protocol.id, tuple(history[:-1]), last), protocol
    )
    return [
        f.message
        for f in res.findings
        if f.code in ("escalation_pattern", "interval_too_short", "cumulative_exceeded")
    ]


def flowsheet_rows(session: DosingSession) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    t0 = session.first_dose_at
    for v in session.vitals.all():
        rows.append(
            {
                "at": v.taken_at,
                "kind": "vitals",
                "v": v,
                "min": int((v.taken_at - t0).total_seconds() // 60) if t0 else None,
            }
        )
    for s in session.scale_readings.all():
        rows.append(
            {
                "at": s.taken_at,
                "kind": s.kind,
                "v": s,
                "min": int((s.taken_at - t0).total_seconds() // 60) if t0 else None,
            }
        )
    return sorted(rows, key=lambda r: r["at"])


def rems_forms_due(clinic: Any) -> QuerySet[RemsMonitoringForm]:
    return (
        RemsMonitoringForm.objects.filter(session__clinic=clinic, submitted_at__isnull=True)
        .select_related("session__patient")
        .order_by("due_on", "pk")
    )


def rems_overdue(form: RemsMonitoringForm, today: dt.date | None = None) -> bool:
    return form.submitted_at is None and form.due_on < (today or timezone.localdate())
