"""Reads of long-term safety surveillance: a patient's history from the records, its evaluation, open alerts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.surveillance import (
    AssessmentRecord,
    DoseRecord,
    History,
    ObservationRecord,
    RequestRecord,
    SettingsError,
    SurveillanceFinding,
    SurveillanceResult,
    SurveillanceSettings,
    apply_overrides,
    default_settings,
    lab_test,
    surveil,
)
from ketaclinic.web.assessments.models import Assessment
from ketaclinic.web.surveillance.models import (
    ClinicSurveillanceSettings,
    FollowUp,
    LabResult,
    SurveillanceDecision,
)
from ketaclinic.web.treatment.models import Administration, DosingSession, TreatmentCourse

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

#: Instruments the schedule reads.
SURVEILLANCE_INSTRUMENTS = ("bpic-ss", "sds", "cognition")
ALERT_LABELS = {
    "bladder_symptoms": "Bladder symptoms",
    "haematuria": "Blood in the urine",
    "liver_enzymes_raised": "Liver enzymes raised",
    "dependence_signal": "Dependence signal",
    "escalation_tolerance": "Dose escalation or tolerance",
    "early_request": "Session requested early",
}
STATUS_LABELS = {
    "ok": "Up to date",
    "due": "Due",
    "overdue": "Overdue",
    "not_due_yet": "Not due yet",
    "not_on_treatment": "Not on treatment",
    "met": "Done",
}


@dataclass(frozen=True)
class PatientSurveillance:
    """A patient's evaluation with the alerts no prescriber has decided on yet."""

    result: SurveillanceResult
    open_alerts: tuple[SurveillanceFinding, ...]
    weight_known: bool
    protocol_id: str
    overridden: bool

    @property
    def overdue(self) -> tuple[SurveillanceFinding, ...]:
        return tuple(f for f in self.result.findings if f.level == "overdue")

    @property
    def due(self) -> tuple[SurveillanceFinding, ...]:
        return tuple(f for f in self.result.findings if f.level == "due")


def lab_ref(lab: LabResult) -> str:
    return f"Observation/lab-{lab.pk}"


def _settings_from_rows(
    rows: dict[str, ClinicSurveillanceSettings], protocol_id: str
) -> SurveillanceSettings:
    row = rows.get(protocol_id) or rows.get("")
    if row is None or not row.overrides:
        return default_settings()
    try:
        return apply_overrides(row.overrides)
    except SettingsError:
        return default_settings()


def settings_for(clinic_id: int, protocol_id: str) -> SurveillanceSettings:
    """The clinic's settings for a protocol: its protocol-specific overrides, else its clinic-wide ones, else
    the shipped defaults. Stored overrides were validated on save; a now-invalid row falls back to defaults."""
    rows = {
        r.protocol_id: r
        for r in ClinicSurveillanceSettings.objects.filter(
            clinic_id=clinic_id, protocol_id__in=[protocol_id, ""]
        )
    }
    return _settings_from_rows(rows, protocol_id)


def _protocol_and_course_end(courses: list[TreatmentCourse]) -> tuple[str, dt.date | None]:
    """Courses newest first: the active course's protocol (no course end), else the latest course's protocol and
    the latest end."""
    if not courses:
        return "", None
    active = next((c for c in courses if c.status == TreatmentCourse.Status.ACTIVE), None)
    if active is not None:
        return active.protocol_id, None
    ended = [c.ended_at for c in courses if c.ended_at is not None]
    return courses[0].protocol_id, (max(ended).astimezone(dt.UTC).date() if ended else None)


def _protocol_interval_hours(protocol_id: str) -> float | None:
    """The protocol's minimum interval between sessions (its `interval.warn_below_hours`), None when unknown."""
    from ketaclinic.core.protocols import get_protocol

    if not protocol_id:
        return None
    try:
        warn = get_protocol(protocol_id).interval.warn_below_hours
    except KeyError:  # a clinic protocol or one no longer shipped: the schedule's default applies
        return None
    return float(warn.value) if warn is not None else None


def patient_histories(patients: list[Any]) -> dict[int, tuple[History, bool, str]]:
    """The surveillance input of each patient from the records, in a fixed number of queries:
    {patient id: (history, weight known, protocol id)}."""
    from ketaclinic.web.patients.models import WeightMeasurement

    ids = [p.pk for p in patients]
    doses: dict[int, list[DoseRecord]] = {i: [] for i in ids}
    for pk, pid, at, mg in Administration.objects.filter(session__patient_id__in=ids).values_list(
        "pk", "session__patient_id", "administered_at", "dose_mg"
    ):
        doses[pid].append(DoseRecord(ref=f"MedicationAdministration/{pk}", time=at, dose_mg=float(mg)))
    assessments: dict[int, list[AssessmentRecord]] = {i: [] for i in ids}
    for pk, pid, iid, at, total in Assessment.objects.filter(
        patient_id__in=ids, instrument_id__in=SURVEILLANCE_INSTRUMENTS, complete=True, total__isnull=False
    ).values_list("pk", "patient_id", "instrument_id", "assessed_at", "total"):
        if total is None:  # excluded by the query; the column itself is nullable
            continue
        assessments[pid].append(
            AssessmentRecord(ref=f"QuestionnaireResponse/{pk}", instrument=iid, time=at, total=float(total))
        )
    observations: dict[int, list[ObservationRecord]] = {i: [] for i in ids}
    for lab in LabResult.objects.filter(patient_id__in=ids).only(
        "pk", "patient_id", "loinc", "taken_at", "value_number", "value_text", "unit", "reference_high"
    ):
        observations[lab.patient_id].append(
            ObservationRecord(
                ref=lab_ref(lab),
                code=lab.loinc,
                time=lab.taken_at,
                value=float(lab.value_number) if lab.value_number is not None else lab.value_text,
                unit=lab.unit or None,
                reference_high=float(lab.reference_high) if lab.reference_high is not None else None,
            )
        )
    weights: dict[int, float] = {}
    for pid, kg in (
        WeightMeasurement.objects.filter(patient_id__in=ids)
        .order_by("patient_id", "-measured_at", "-pk")
        .values_list("patient_id", "weight_kg")
    ):
        weights.setdefault(pid, float(kg))
    courses: dict[int, list[TreatmentCourse]] = {i: [] for i in ids}
    for c in (
        TreatmentCourse.objects.filter(patient_id__in=ids)
        .order_by("-started_at", "-pk")
        .only("pk", "patient_id", "protocol_id", "status", "ended_at", "started_at")
    ):
        courses[c.patient_id].append(c)
    # Sessions booked and not yet given (the early-request alert reads them against the protocol's interval).
    requests: dict[int, list[RequestRecord]] = {i: [] for i in ids}
    for pk, pid, at in (
        DosingSession.objects.filter(patient_id__in=ids, first_dose_at__isnull=True)
        .exclude(status__in=[DosingSession.Status.CANCELLED, DosingSession.Status.DISCHARGED])
        .values_list("pk", "patient_id", "scheduled_for")
    ):
        requests[pid].append(RequestRecord(ref=f"Appointment/{pk}", time=at))
    out: dict[int, tuple[History, bool, str]] = {}
    for pid in ids:
        protocol_id, course_end = _protocol_and_course_end(courses[pid])
        history = History(
            weight_kg=weights.get(pid, 1.0),
            doses=tuple(doses[pid]),
            assessments=tuple(assessments[pid]),
            observations=tuple(observations[pid]),
            course_end=course_end,
            requests=tuple(requests[pid]),
            min_interval_hours=_protocol_interval_hours(protocol_id),
        )
        out[pid] = (history, pid in weights, protocol_id)
    return out


def patient_history(patient: Patient) -> tuple[History, bool, str]:
    """The surveillance input from the records: (history, weight known, protocol id)."""
    return patient_histories([patient])[patient.pk]


def evaluate_patients(patients: list[Any], *, on: dt.date | None = None) -> dict[int, PatientSurveillance]:
    """Evaluate several patients (of any clinics) in a fixed number of queries."""
    histories = patient_histories(patients)
    day = on or timezone.now().astimezone(dt.UTC).date()
    clinic_ids = {p.clinic_id for p in patients}
    rows: dict[int, dict[str, ClinicSurveillanceSettings]] = {c: {} for c in clinic_ids}
    for r in ClinicSurveillanceSettings.objects.filter(clinic_id__in=clinic_ids):
        rows[r.clinic_id][r.protocol_id] = r
    decided: dict[int, set[tuple[str, tuple[str, ...]]]] = {p.pk: set() for p in patients}
    for pid, code, evidence in SurveillanceDecision.objects.filter(
        patient_id__in=[p.pk for p in patients]
    ).values_list("patient_id", "alert_code", "evidence"):
        decided[pid].add((code, tuple(evidence)))
    out: dict[int, PatientSurveillance] = {}
    for p in patients:
        history, weight_known, protocol_id = histories[p.pk]
        settings = _settings_from_rows(rows[p.clinic_id], protocol_id)
        result = surveil(history, day, settings)
        out[p.pk] = PatientSurveillance(
            result=result,
            open_alerts=tuple(f for f in result.alerts if (f.code, f.evidence) not in decided[p.pk]),
            weight_known=weight_known,
            protocol_id=protocol_id,
            overridden=bool(settings.overridden),
        )
    return out


def evaluate_patient(patient: Patient, *, on: dt.date | None = None) -> PatientSurveillance:
    return evaluate_patients([patient], on=on)[patient.pk]


def decisions_for_patient(patient: Patient) -> QuerySet[SurveillanceDecision]:
    return SurveillanceDecision.objects.filter(patient=patient).select_related("decided_by")


def labs_for_patient(patient: Patient) -> QuerySet[LabResult]:
    return LabResult.objects.filter(patient=patient).select_related("recorded_by")


def lab_name(loinc: str) -> str:
    test = lab_test(loinc)
    return test.name if test else loinc


def followups_for_patient(patient: Patient) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(patient=patient).select_related("link", "task_closed_by")


def open_followup_tasks(
    *, clinic: Clinic | None = None, patient: Patient | None = None
) -> QuerySet[FollowUp]:
    """Follow-ups whose link expired unanswered and whose task no nurse has closed: the nurse calls."""
    qs = FollowUp.objects.filter(
        task_closed_at__isnull=True,
        link__used_at__isnull=True,
        link__revoked_at__isnull=True,
        link__expires_at__lte=timezone.now(),
    ).select_related("patient", "link")
    if clinic is not None:
        qs = qs.filter(clinic=clinic)
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("link__expires_at", "pk")


def surveillance_banners(patient: Patient) -> list[dict[str, str]]:
    """Chart (and run-sheet) banners: one per open alert, one for overdue screens, one per follow-up task."""
    url = reverse("surveillance:chart_tab", kwargs={"patient_id": patient.pk})
    tasks = [
        {
            "level": "warning",
            "text": (
                f"Withdrawal and craving follow-up {fu.day} days after the course went unanswered: "
                "call the patient and record a Severity of Dependence Scale."
            ),
            "url": url,
        }
        for fu in open_followup_tasks(patient=patient)
    ]
    if not Administration.objects.filter(session__patient=patient).exists():
        return tasks
    ev = evaluate_patient(patient)
    out = [
        {
            "level": "danger",
            "text": (
                f"Safety alert: {ALERT_LABELS.get(f.code, f.code)}. {f.message.rstrip('.')}. "
                "A prescriber's decision is needed."
            ),
            "url": url,
        }
        for f in ev.open_alerts
    ]
    if ev.overdue:
        names = ", ".join(_item_label(ev.result, f) for f in ev.overdue)
        out.append({"level": "warning", "text": f"Safety screens overdue: {names}.", "url": url})
    return out + tasks


def _item_label(result: SurveillanceResult, f: SurveillanceFinding) -> str:
    for s in result.items:
        if s.code == f.subject:
            return s.label
    return f.subject


def clinic_watchlist(clinic: Clinic, *, on: dt.date | None = None) -> list[tuple[Any, PatientSurveillance]]:
    """Patients of `clinic` with an open alert or an overdue item, the most urgent first (a fixed number of
    queries, whatever the number of patients)."""
    from ketaclinic.web.patients.models import Patient

    dosed = Administration.objects.filter(session__clinic=clinic).values("session__patient_id")
    patients = list(
        Patient.objects.filter(clinic=clinic, pk__in=dosed).order_by("family_name", "given_name", "pk")
    )
    evaluations = evaluate_patients(patients, on=on)
    rows = [
        (p, evaluations[p.pk]) for p in patients if evaluations[p.pk].open_alerts or evaluations[p.pk].overdue
    ]
    rows.sort(key=lambda r: (-len(r[1].open_alerts), -len(r[1].overdue), r[0].family_name, r[0].pk))
    return rows
