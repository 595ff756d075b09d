"""Reads of the treatment domain: protocols, courses, sessions, dose history, the pre-dose and discharge checks,
flowsheets, escalation signals, REMS forms due. Selectors never write."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import QuerySet
from django.utils import timezone

from ketaclinic.core.protocols import Dose, Protocol, get_protocol, parse_protocol
from ketaclinic.core.protocols.model import DRUGS, Drug
from ketaclinic.core.protocols.monitoring import (
    DischargeDecision,
    DischargeInput,
    Vitals,
    evaluate_discharge,
    evaluate_vitals,
)
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.treatment.models import (
    ClinicProtocol,
    DosingSession,
    RemsMonitoringForm,
    TreatmentCourse,
    VitalSign,
)

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

# The consent record names a product (screening/data/approvals.yaml `products`); a protocol names a drug.
CONSENT_PRODUCT = {"esketamine": "esketamine_nasal", "ketamine": "ketamine_racemic"}


def protocols_for_clinic(clinic: Clinic) -> list[Any]:
    """The packaged protocols followed by the clinic's own active ones (each a core `Protocol`)."""
    from ketaclinic.core.protocols import load_protocols, parse_protocol
    from ketaclinic.web.treatment.models import ClinicProtocol

    out = list(load_protocols())
    for cp in ClinicProtocol.objects.filter(clinic=clinic, active=True).order_by("protocol_id"):
        out.append(parse_protocol(cp.definition))
    return out


def courses_for_patient(patient: Patient) -> QuerySet[TreatmentCourse]:
    return TreatmentCourse.objects.filter(patient=patient).prefetch_related("orders")


def sessions_for_patient(patient: Patient) -> QuerySet[DosingSession]:
    return DosingSession.objects.filter(patient=patient).select_related("order", "course")


def dose_times_for_patient(patient: Patient) -> list[dt.datetime]:
    """The patient's administered dose times, one per dosing session (the first administration; esketamine
    devices of one session are one dose), oldest first. Registered with the assessments app as its
    dose-times provider: the baseline for response/remission is the last score at or before the first of these."""
    return [
        at
        for at in DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False)
        .order_by("first_dose_at")
        .values_list("first_dose_at", flat=True)
        if at is not None  # excluded by the query; the column itself is nullable
    ]


_UNSET: Any = object()


def escalation_signals(patient: Patient, *, weight: Any = _UNSET) -> list[str]:
    """Dose-creep / shortening-interval findings on the patient's most recent guarded doses (for the chart)."""
    from ketaclinic.core.protocols import DoseRequest, PatientFacts, check_dose

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


def rems_forms_due(clinic: Clinic) -> QuerySet[RemsMonitoringForm]:
    return (
        RemsMonitoringForm.objects.filter(session__clinic=clinic, submitted_at__isnull=True)
        .select_related("session__patient")
        .order_by("due_on", "pk")
    )


def rems_overdue(form: RemsMonitoringForm, today: dt.date | None = None) -> bool:
    return form.submitted_at is None and form.due_on < (today or timezone.localdate())


ACTIVE_STATUSES = ("checked_in", "pre_dose_checks", "dosing", "monitoring", "discharge_ready")


def sessions_board(clinic: Clinic, day: dt.date | None = None) -> list[DosingSession]:
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


def escalation_banners(patient: Patient) -> list[dict[str, str]]:
    """Chart banner provider: one warning per escalation / dependence signal, linking to the treatment tab."""
    from django.urls import reverse

    signals = escalation_signals(patient)
    if not signals:
        return []
    url = reverse("treatment:chart_tab", kwargs={"patient_id": patient.pk})
    return [{"level": "warning", "text": f"Dosing signal: {m}", "url": url} for m in signals]


def clinic_protocols(clinic: Clinic) -> list[Any]:
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


def treatment_banner_facts(patient: Patient, session: DosingSession | None = None) -> dict[str, Any]:
    """Patient-banner facts: the course's protocol and the session's place in it ("induction 3 of 6"), the
    consent for the course's indication and product, and the session alerts not yet acknowledged
    (4 queries with an active course or a session; 3 without)."""
    from ketaclinic.core.protocols.course import course_plan, course_position
    from ketaclinic.web.screening.models import Consent
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


def resolve_protocol(clinic: Clinic, protocol_id: str) -> Protocol:
    """A packaged protocol, or the clinic's own active one; ValidationFailed naming `protocol_id`."""
    try:
        return get_protocol(protocol_id)
    except KeyError:
        pass
    cp = ClinicProtocol.objects.filter(clinic=clinic, protocol_id=protocol_id, active=True).first()
    if cp is None:
        raise ValidationFailed({"protocol_id": [f"unknown protocol {protocol_id!r}"]})
    return parse_protocol(cp.definition)


def course_protocol(course: TreatmentCourse) -> Protocol:
    return parse_protocol(course.protocol_snapshot)


def _drug(code: str) -> Drug:
    """A stored drug code as the protocol's drug type (the column's choices are exactly DRUGS)."""
    for known in DRUGS:
        if code == known:
            return known
    raise ValueError(f"unknown drug {code!r} on a stored administration")


def dose_history(patient: Patient, *, exclude_session: DosingSession | None = None) -> tuple[Dose, ...]:
    """The patient's administered doses as guard history; esketamine devices of one session are summed."""
    out: list[Dose] = []
    sessions = DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False)
    if exclude_session is not None:
        sessions = sessions.exclude(pk=exclude_session.pk)
    for s in sessions.prefetch_related("administrations"):
        admins = list(s.administrations.all())
        if not admins:
            continue
        first = admins[0]
        # An infusion stopped early gave less than it started with: the guard counts what was given.
        given = s.dose_given_mg
        total = float(given if given is not None else sum(a.dose_mg for a in admins))
        dur = sum(a.duration_min or 0 for a in admins) or None
        out.append(
            Dose(
                time=first.administered_at,
                drug=_drug(first.drug),
                route=first.route,
                dose_mg=total,
                duration_min=float(dur) if dur else None,
            )
        )
    return tuple(out)


def latest_weight_for(patient: Patient) -> Any:
    return patient.latest_weight()


def consent_indications() -> dict[str, str]:
    """Indication codes a course may be started for (the codes consent is recorded against), with labels."""
    from ketaclinic.web.screening.actions import approvals

    return dict(approvals()["indications"])


def _suicide_alert_open(patient: Patient) -> bool:
    try:
        from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
    except ImportError:  # pragma: no cover - the assessments app is part of the product
        return False
    return bool(has_unacknowledged_suicide_alert(patient))


def vitals_of(v: VitalSign) -> Vitals:
    return Vitals(v.taken_at, v.systolic, v.diastolic, v.heart_rate, v.spo2, v.respiratory_rate)


def baseline_vitals(session: DosingSession) -> VitalSign | None:
    return session.vitals.filter(is_baseline=True).order_by("-taken_at", "-pk").first()


class PreDoseChecklist(TypedDict, total=False):
    """The pre-dose checklist as the nurse submits it; a missing check counts as not done."""

    fasting_confirmed: bool
    transport_confirmed: bool
    escort_name: str
    pregnancy_test: str
    rems_enrolment_verified: bool
    bp_attestation_reason: str


def pre_dose_problems(
    session: DosingSession, protocol: Protocol, data: PreDoseChecklist
) -> dict[str, list[str]]:
    """Every unmet pre-dose check, by field (empty = all checks pass)."""
    errors: dict[str, list[str]] = {}
    pd = protocol.pre_dose
    base = baseline_vitals(session)
    if base is None or base.systolic is None or base.diastolic is None:
        errors["vitals"] = ["record baseline vitals (with blood pressure) after check-in"]
    else:
        alerts = evaluate_vitals(vitals_of(base), phase="pre_dose")
        if alerts and not (data.get("bp_attestation_reason") or "").strip():
            errors["vitals"] = [
                f"{a.message} A prescriber's risk–benefit attestation is required." for a in alerts
            ]
    if not data.get("fasting_confirmed"):
        errors["fasting_confirmed"] = [
            f"confirm no food for {pd.fasting_food_hours.value:g} h and no liquids for {pd.fasting_liquids_hours.value:g} h"
        ]
    if pd.transport_home_required and not (
        data.get("transport_confirmed") and (data.get("escort_name") or "").strip()
    ):
        errors["transport_confirmed"] = [
            "confirm transport home and name the escort (no driving until the next day)"
        ]
    preg = data.get("pregnancy_test") or ""
    needs_test = pd.pregnancy_test == "always" or (
        pd.pregnancy_test == "if_childbearing_potential"
        and session.patient.sex_at_birth in ("female", "intersex")
        and session.patient.age_on(timezone.localdate()) < 56
    )
    if needs_test and preg != DosingSession.PregnancyTest.NEGATIVE:
        errors["pregnancy_test"] = ["a negative pregnancy test is required before dosing"]
    if preg == DosingSession.PregnancyTest.POSITIVE:
        errors["pregnancy_test"] = ["positive pregnancy test: do not dose"]
    if _suicide_alert_open(session.patient):
        errors["suicide_alert"] = [
            "an unacknowledged suicide-risk alert must be reviewed by a prescriber first"
        ]
    if pd.rems_enrolment_required:
        if not (data.get("rems_enrolment_verified") and session.course.rems_patient_enrolled):
            errors["rems_enrolment_verified"] = ["verify the patient's Spravato REMS enrolment"]
        if session.site is None or not session.site.rems_certified:
            errors["site"] = ["this site is not REMS-certified for esketamine"]
    return errors


def discharge_decision(
    session: DosingSession, *, escort_present: bool | None = None, now: dt.datetime | None = None
) -> DischargeDecision:
    protocol = course_protocol(session.course)
    base = baseline_vitals(session)
    moaas = session.scale_readings.filter(kind="moaas").order_by("-taken_at", "-pk").first()
    return evaluate_discharge(
        DischargeInput(
            now=now or timezone.now(),
            baseline=vitals_of(base) if base else None,
            vitals=[vitals_of(v) for v in session.vitals.all()],
            latest_moaas=moaas.score if moaas else None,
            unresolved_side_effects=[
                se.get_code_display() for se in session.side_effects.filter(resolved_at__isnull=True)
            ],
            escort_present=session.escort_present if escort_present is None else escort_present,
            first_dose_at=session.first_dose_at,
            dose_end_at=session.dose_ended_at,
        ),
        protocol,
    )
