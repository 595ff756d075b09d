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


def dose_times_for_patient(patient: Any) -> list[dt.datetime]:
    """The patient's administered dose times, one per dosing session (the first administration; esketamine
    devices of one session are one dose), oldest first. Registered with the assessments app as its
    dose-times provider: the baseline for response/remission is the last score at or before the first of these."""
    return list(
        DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False)
        .order_by("first_dose_at")
        .values_list("first_dose_at", flat=True)
    )


_UNSET: Any = object()


def escalation_signals(patient: Any, *, weight: Any = _UNSET) -> list[str]:
    """Dose-creep / shortening-interval findings on the patient's most recent guarded doses (for the chart)."""
    from ketaclinic.core.protocols import DoseRequest, PatientFacts, check_dose
    from ketaclinic.web.treatment.actions import dose_history

    history = sorted(dose_history(patient), key=lambda d: d.time)
    if weight is _UNSET:  # callers that already hold the latest weight pass it (None included)
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


#: Sensor readings appear on the flowsheet as one row per this many seconds (median of each vital sign).
SENSOR_INTERVAL_SECONDS = 300


def flowsheet_rows(session: DosingSession) -> list[dict[str, Any]]:
    """Manual vitals, sensor vitals (medians per 5-minute interval, from the monitoring app) and sedation /
    dissociation scores in time order. Every vitals row says its `source` ("manual" or "sensor"); sensor rows
    also name their device(s) and how many readings the interval summarises. At equal times a manual row
    comes before a sensor row (stable sort)."""
    from ketaclinic.web.monitoring.selectors import devices_by_id, sensor_vitals_for_flowsheet

    rows: list[dict[str, Any]] = []
    t0 = session.first_dose_at

    def minute(at: dt.datetime) -> int | None:
        return int((at - t0).total_seconds() // 60) if t0 else None

    for v in session.vitals.all():
        rows.append(
            {
                "at": v.taken_at,
                "kind": "vitals",
                "source": v.source,
                "v": v,
                "min": minute(v.taken_at),
                "devices": "",
                "readings": None,
            }
        )
    sensor = sensor_vitals_for_flowsheet(session.pk, interval_seconds=SENSOR_INTERVAL_SECONDS)
    ids = {int(x) for r in sensor for x in (r.device_id or "").split(",") if x}
    names = {pk: d.label for pk, d in devices_by_id(ids).items()}
    for r in sensor:
        labels = [names.get(int(x), f"device {x}") for x in (r.device_id or "").split(",") if x]
        rows.append(
            {
                "at": r.taken_at,
                "kind": "vitals",
                "source": r.source,
                "v": r,
                "min": minute(r.taken_at),
                "devices": ", ".join(labels),
                "readings": r.readings,
            }
        )
    for s in session.scale_readings.all():
        rows.append(
            {
                "at": s.taken_at,
                "kind": s.kind,
                "source": "manual",
                "v": s,
                "min": minute(s.taken_at),
                "devices": "",
                "readings": None,
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


ACTIVE_STATUSES = ("checked_in", "pre_dose_checks", "dosing", "monitoring", "discharge_ready")


def sessions_board(clinic: Any, day: dt.date | None = None) -> list[DosingSession]:
    """Today's sessions at the clinic (not cancelled) plus any still in progress from an earlier day,
    ordered by scheduled time."""
    from django.db.models import Q

    day = day or timezone.localdate()
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=1)
    today = Q(scheduled_for__gte=start, scheduled_for__lt=end) & ~Q(status=DosingSession.Status.CANCELLED)
    running = Q(status__in=ACTIVE_STATUSES, scheduled_for__lt=start)
    return list(
        DosingSession.objects.filter(Q(clinic=clinic) & (today | running))
        .select_related("patient", "order", "site", "course")
        .order_by("scheduled_for", "pk")
    )


def escalation_banners(patient: Any) -> list[dict[str, str]]:
    """Chart banner provider: one warning per escalation / dependence signal, linking to the treatment tab."""
    from django.urls import reverse

    signals = escalation_signals(patient)
    if not signals:
        return []
    url = reverse("treatment:chart_tab", kwargs={"patient_id": patient.pk})
    return [{"level": "warning", "text": f"Dosing signal: {m}", "url": url} for m in signals]


def clinic_protocols(clinic: Any) -> list[Any]:
    from ketaclinic.web.treatment.models import ClinicProtocol

    return list(ClinicProtocol.objects.filter(clinic=clinic).select_related("created_by"))


def _session_number(course: TreatmentCourse, session: DosingSession | None) -> int:
    """Session number in its course (cancelled sessions are not counted); without a session, the latest's."""
    from django.db.models import Q

    qs = DosingSession.objects.filter(course=course).exclude(status=DosingSession.Status.CANCELLED)
    if session is not None:
        qs = qs.filter(
            Q(scheduled_for__lt=session.scheduled_for)
            | Q(scheduled_for=session.scheduled_for, pk__lte=session.pk)
            | Q(pk=session.pk)
        )
    return qs.count()


def treatment_banner_facts(patient: Any, session: DosingSession | None = None) -> dict[str, Any]:
    """Patient-banner facts: the course's protocol and the session's place in it ("induction 3 of 6"), the
    consent for the course's indication and product, and the session alerts not yet acknowledged
    (4 queries with an active course or a session; 3 without)."""
    from ketaclinic.core.protocols.course import course_plan, course_position
    from ketaclinic.web.screening.models import Consent
    from ketaclinic.web.treatment.actions import CONSENT_PRODUCT, consent_indications
    from ketaclinic.web.treatment.models import SessionAlert

    facts: dict[str, Any] = {
        "open_alerts": SessionAlert.objects.filter(
            session__patient=patient, acknowledged_at__isnull=True
        ).count()
    }
    course = (
        session.course
        if session is not None
        else TreatmentCourse.objects.filter(patient=patient, status=TreatmentCourse.Status.ACTIVE).first()
    )
    consents = Consent.objects.filter(patient=patient).order_by("-signed_at", "-pk")
    labels = consent_indications()
    if course is None:
        latest = consents.first()
        facts["protocol"] = "No active course"
        facts["consent_ok"] = latest is not None
        facts["consent"] = (
            f"Signed {timezone.localdate(latest.signed_at):%Y-%m-%d} for "
            f"{labels.get(latest.indication, latest.indication).lower()}"
            if latest is not None
            else "None on file"
        )
        return facts
    snapshot = course.protocol_snapshot or {}
    facts["protocol"] = str(snapshot.get("name") or course.protocol_id)
    number = _session_number(course, session)
    facts["course_position"] = (
        course_position(course_plan(snapshot), number).text if number else "no session yet"
    )
    indication = labels.get(course.indication, course.indication).lower()
    product = CONSENT_PRODUCT.get(str(snapshot.get("drug", "")), "")
    consent = consents.filter(indication=course.indication, product=product).first()
    facts["consent_ok"] = consent is not None
    facts["consent"] = (
        f"Signed {timezone.localdate(consent.signed_at):%Y-%m-%d} for {indication}"
        if consent is not None
        else f"Not on file for {indication}"
    )
    return facts
