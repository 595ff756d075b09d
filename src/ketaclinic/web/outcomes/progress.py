"""Per-patient progress report for referrers and the patient: trend charts, doses, response and remission,
safety events and the current plan, as data (selector) and as a PDF (fpdf2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from ketaclinic.core.instruments import Instrument, load_instrument
from ketaclinic.core.outcomes import (
    CohortPatient,
    PatientOutcome,
    Score,
    assess_patient,
    cohort_instrument_ids,
)
from ketaclinic.core.outcomes import cohort_rules as rules_for
from ketaclinic.core.outcomes.cohort import exact_total
from ketaclinic.web.outcomes.pdf import ReportPdf, local_day, local_minute

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

MAX_ROWS = 60  # per table; the report says how many more there are


@dataclass(frozen=True)
class SeriesReport:
    instrument: Instrument
    points: list[tuple[dt.datetime, float]]
    outcome: PatientOutcome | None
    response_pct: int
    remission_words: str | None
    remission_value: float | None


@dataclass(frozen=True)
class ProgressData:
    patient: Patient
    tz: dt.tzinfo
    generated_at: dt.datetime
    course: Any | None
    protocol_name: str
    indication: str
    first_dose: dt.datetime | None
    sessions: list[dict[str, str]]
    sessions_total: int
    series: list[SeriesReport]
    safety: list[dict[str, str]]
    safety_total: int
    next_sessions: list[str]
    questionnaires: list[str]


def patient_tz(patient: Patient) -> dt.tzinfo:
    site = getattr(patient, "home_site", None)
    try:
        return ZoneInfo((site.timezone if site is not None else "") or settings.TIME_ZONE)
    except Exception:
        return ZoneInfo("UTC")


def _indication_words(code: str) -> str:
    from ketaclinic.web.treatment.selectors import consent_indications

    return consent_indications().get(code, code)


def progress_data(patient: Patient) -> ProgressData:
    """Everything the progress report shows for `patient` (already access-checked by the caller)."""
    from ketaclinic.core.protocols import get_protocol
    from ketaclinic.web.assessments.models import Assessment, RemoteSchedule
    from ketaclinic.web.treatment.models import DosingSession, SessionAlert, SideEffect, TreatmentCourse

    tz = patient_tz(patient)
    course = TreatmentCourse.objects.filter(patient=patient).order_by("-started_at", "-pk").first()
    try:
        protocol_name = get_protocol(course.protocol_id).name if course else ""
    except KeyError:
        protocol_name = course.protocol_id if course else ""
    dosed = (
        DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False)
        .select_related("course", "order")
        .annotate(given=Sum("administrations__dose_mg"))
        .order_by("first_dose_at", "pk")
    )
    course_sessions = [s for s in dosed if course is not None and s.course_id == course.pk]
    first_dose = course_sessions[0].first_dose_at if course_sessions else None
    sessions = [
        {
            "date": local_minute(s.first_dose_at, tz),
            "drug": (s.order.drug if s.order else "").capitalize(),
            "route": (s.order.route if s.order else ""),
            "dose": f"{s.given.normalize():f} mg" if s.given is not None else "",
            "status": s.get_status_display(),
        }
        for s in dosed
        if s.first_dose_at is not None  # always, by the query
    ]
    series: list[SeriesReport] = []
    rows = (
        Assessment.objects.filter(patient=patient, complete=True, total__isnull=False)
        .order_by("assessed_at", "pk")
        .values_list("instrument_id", "assessed_at", "total")
    )
    by_inst: dict[str, list[tuple[dt.datetime, float]]] = {}
    for iid, at, total in rows:
        if total is not None:  # excluded by the query; the column itself is nullable
            by_inst.setdefault(iid, []).append((at, float(total)))
    for iid in cohort_instrument_ids():
        pts = by_inst.get(iid)
        if not pts:
            continue
        rules = rules_for(iid)
        outcome = assess_patient(
            CohortPatient(
                id=patient.pk,
                first_dose=first_dose,
                scores=tuple(Score(at=t, total=exact_total(v)) for t, v in pts),
            ),
            rules,
        )
        rem = rules.remission
        series.append(
            SeriesReport(
                instrument=load_instrument(iid),
                points=pts,
                outcome=outcome,
                response_pct=rules.response_pct,
                remission_words=(
                    None if rem is None else f"{'below' if rem.op == 'lt' else 'at or below'} {rem.value}"
                ),
                remission_value=None if rem is None else float(rem.value),
            )
        )
    events: list[tuple[dt.datetime, str, str]] = []
    for se in SideEffect.objects.filter(session__patient=patient).order_by("-onset_at")[: MAX_ROWS + 1]:
        words = f"{se.get_code_display()} ({se.get_severity_display().lower()}{', serious' if se.serious else ''})"
        events.append((se.onset_at, "Side effect", words))
    for al in SessionAlert.objects.filter(session__patient=patient).order_by("-raised_at")[: MAX_ROWS + 1]:
        events.append((al.raised_at, "Monitoring alert", al.message))
    events.sort(key=lambda e: e[0], reverse=True)
    safety_total = (
        SideEffect.objects.filter(session__patient=patient).count()
        + SessionAlert.objects.filter(session__patient=patient).count()
    )
    now = timezone.now()
    upcoming = DosingSession.objects.filter(
        patient=patient, status=DosingSession.Status.SCHEDULED, scheduled_for__gte=now
    ).order_by("scheduled_for")[:5]
    schedules = RemoteSchedule.objects.filter(patient=patient, active=True).order_by("instrument_id")
    questionnaires = []
    for rs in schedules:
        name = load_instrument(rs.instrument_id).short_title
        when = (
            f"every {rs.interval_days} days"
            if rs.kind == RemoteSchedule.Kind.INTERVAL
            else f"{rs.delay_hours} hours after each dose"
        )
        questionnaires.append(f"{name}, {when}")
    return ProgressData(
        patient=patient,
        tz=tz,
        generated_at=now,
        course=course,
        protocol_name=protocol_name,
        indication=_indication_words(course.indication) if course else "",
        first_dose=first_dose,
        sessions=sessions[-MAX_ROWS:],
        sessions_total=len(sessions),
        series=series,
        safety=[{"date": local_minute(t, tz), "kind": k, "what": w} for t, k, w in events[:MAX_ROWS]],
        safety_total=safety_total,
        next_sessions=[local_minute(s.scheduled_for, tz) for s in upcoming],
        questionnaires=questionnaires,
    )


def _yes_no(v: bool | None) -> str:
    return "not assessable" if v is None else "yes" if v else "no"


def progress_pdf(d: ProgressData) -> bytes:
    """The progress report as a PDF."""
    p = d.patient
    tz_name = getattr(d.tz, "key", str(d.tz))
    doc = ReportPdf(
        f"Treatment progress report: {p.given_name} {p.family_name}",
        [
            f"{p.clinic.name}. Born {p.birth_date:%Y-%m-%d}. Record number {p.mrn}.",
            (
                f"Referred by {p.referring_clinician}."
                if p.referring_clinician
                else "No referring clinician on file."
            ),
            f"Prepared {local_minute(d.generated_at, d.tz)} ({tz_name}). Dates and times are in this time zone.",
        ],
    )
    doc.heading("Treatment")
    if d.course is None:
        doc.para("No treatment course has been started.")
    else:
        doc.para(
            f"{d.protocol_name} for {d.indication.lower()}, started {local_day(d.course.started_at, d.tz)} "
            f"({d.course.get_status_display().lower()}). "
            + (f"First dose {local_minute(d.first_dose, d.tz)}." if d.first_dose else "No dose given yet.")
        )
    doc.heading("Scores")
    if not d.series:
        doc.para("No completed rating scales.")
    for s in d.series:
        inst = s.instrument
        doc.para(f"{inst.title}: {len(s.points)} score{'s' if len(s.points) != 1 else ''}", bold=True)
        t0 = min([t for t, _ in s.points] + ([d.first_dose] if d.first_dose else []))
        t1 = max(t for t, _ in s.points)
        span = max((t1 - t0).total_seconds() / 86400, 1.0)
        doc.line_chart(
            [((t - t0).total_seconds() / 86400, v) for t, v in s.points],
            x_range=(0, span),
            y_range=(inst.total_min, inst.total_max),
            x_labels=[(0, local_day(t0, d.tz)), (span, local_day(t1, d.tz))],
            markers=[(d.first_dose - t0).total_seconds() / 86400] if d.first_dose else [],
            threshold=(
                None if s.remission_value is None else (s.remission_value, f"Remission {s.remission_words}")
            ),
        )
        o = s.outcome
        if o is None or not o.evaluable:
            reason = {
                "no_first_dose": "no dose given yet",
                "no_baseline": "no score in the 14 days before the first dose",
                "no_follow_up": "no score since the first dose",
            }.get((o.not_evaluable_reason or "") if o else "", "not assessable")
            doc.para(f"Response and remission: not assessable ({reason}).")
        else:
            assert o.baseline is not None and o.latest is not None
            change = "" if o.pct_change is None else f" ({o.pct_change:+.0f} %)"
            days = (
                ""
                if o.days_to_response is None
                else f", first met {o.days_to_response:.1f} days after the first dose"
            )
            lines = [
                f"Baseline {float(o.baseline.total):g} on {local_day(o.baseline.at, d.tz)}; latest "
                f"{float(o.latest.total):g} on {local_day(o.latest.at, d.tz)}{change}.",
                f"Response (a fall of at least {s.response_pct} %): at the latest score {_yes_no(o.response_last)}; "
                f"at any score {_yes_no(o.response)}{days}.",
            ]
            if s.remission_words is not None:
                lines.append(
                    f"Remission (a score {s.remission_words}): at the latest score {_yes_no(o.remission_last)}; "
                    f"at any score {_yes_no(o.remission)}."
                )
            for line in lines:
                doc.para(line)
    doc.heading("Doses")
    if not d.sessions:
        doc.para("No doses given.")
    else:
        if d.sessions_total > len(d.sessions):
            doc.para(f"The latest {len(d.sessions)} of {d.sessions_total} sessions.")
        doc.table(
            ["Date and time", "Drug", "Route", "Dose given", "Session"],
            [[r["date"], r["drug"], _route(r["route"]), r["dose"], r["status"]] for r in d.sessions],
            widths=(34, 26, 26, 26, 40),
        )
    doc.heading("Safety events")
    if not d.safety:
        doc.para("None recorded.")
    else:
        if d.safety_total > len(d.safety):
            doc.para(f"The latest {len(d.safety)} of {d.safety_total} events.")
        doc.table(
            ["Date and time", "Kind", "What"],
            [[r["date"], r["kind"], r["what"]] for r in d.safety],
            widths=(34, 30, 118),
        )
    doc.heading("Current plan")
    if d.next_sessions:
        doc.para("Next sessions: " + "; ".join(d.next_sessions) + ".")
    else:
        doc.para("No session is scheduled.")
    if d.questionnaires:
        doc.para("Questionnaires sent to the patient: " + "; ".join(d.questionnaires) + ".")
    doc.para(
        "Response and remission follow published definitions computed from the recorded scores; they inform and do "
        "not replace clinical judgement.",
        size=8,
    )
    return doc.output()


def _route(code: str) -> str:
    from ketaclinic.web.outcomes.views import ROUTE_LABELS

    return ROUTE_LABELS.get(code, code)
