"""Reads of long-term safety surveillance: a patient's history from the records, its evaluation, open alerts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.surveillance import (
    AssessmentRecord,
    DoseRecord,
    History,
    ObservationRecord,
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
from ketaclinic.web.treatment.models import Administration, TreatmentCourse

#: Instruments the schedule reads.
SURVEILLANCE_INSTRUMENTS = ("bpic-ss", "sds", "cognition")
ALERT_LABELS = {
    "bladder_symptoms": "Bladder symptoms",
    "haematuria": "Blood in the urine",
    "liver_enzymes_raised": "Liver enzymes raised",
    "dependence_signal": "Dependence signal",
    "escalation_tolerance": "Dose escalation or tolerance",
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


def settings_for(clinic_id: int, protocol_id: str) -> SurveillanceSettings:
    """The clinic's settings for a protocol: its protocol-specific overrides, else its clinic-wide ones, else
    the shipped defaults. Stored overrides were validated on save; a now-invalid row falls back to defaults."""
    rows = {
        r.protocol_id: r
        for r in ClinicSurveillanceSettings.objects.filter(
            clinic_id=clinic_id, protocol_id__in=[protocol_id, ""]
        )
    }
    row = rows.get(protocol_id) or rows.get("")
    if row is None or not row.overrides:
        return default_settings()
    try:
        return apply_overrides(row.overrides)
    except SettingsError:
        return default_settings()


def _protocol_and_course_end(patient: Any) -> tuple[str, dt.date | None]:
    courses = list(TreatmentCourse.objects.filter(patient=patient).order_by("-started_at", "-pk")[:20])
    if not courses:
        return "", None
    if any(c.status == TreatmentCourse.Status.ACTIVE for c in courses):
        active = next(c for c in courses if c.status == TreatmentCourse.Status.ACTIVE)
        return active.protocol_id, None
    ended = [c.ended_at for c in courses if c.ended_at is not None]
    return courses[0].protocol_id, (max(ended).astimezone(dt.UTC).date() if ended else None)


def patient_history(patient: Any) -> tuple[History, bool, str]:
    """The surveillance input from the records: (history, weight known, protocol id)."""
    doses = tuple(
        DoseRecord(ref=f"MedicationAdministration/{a.pk}", time=a.administered_at, dose_mg=float(a.dose_mg))
        for a in Administration.objects.filter(session__patient=patient).only(
            "pk", "administered_at", "dose_mg"
        )
    )
    assessments = tuple(
        AssessmentRecord(
            ref=f"QuestionnaireResponse/{a.pk}",
            instrument=a.instrument_id,
            time=a.assessed_at,
            total=float(a.total),
        )
        for a in Assessment.objects.filter(
            patient=patient, instrument_id__in=SURVEILLANCE_INSTRUMENTS, complete=True, total__isnull=False
        ).only("pk", "instrument_id", "assessed_at", "total")
    )
    observations = tuple(
        ObservationRecord(
            ref=lab_ref(lab),
            code=lab.loinc,
            time=lab.taken_at,
            value=float(lab.value_number) if lab.value_number is not None else lab.value_text,
            unit=lab.unit or None,
            reference_high=float(lab.reference_high) if lab.reference_high is not None else None,
        )
        for lab in LabResult.objects.filter(patient=patient)
    )
    weight = patient.latest_weight()
    protocol_id, course_end = _protocol_and_course_end(patient)
    history = History(
        weight_kg=float(weight.weight_kg) if weight is not None else 1.0,
        doses=doses,
        assessments=assessments,
        observations=observations,
        course_end=course_end,
    )
    return history, weight is not None, protocol_id


def evaluate_patient(patient: Any, *, on: dt.date | None = None) -> PatientSurveillance:
    history, weight_known, protocol_id = patient_history(patient)
    settings = settings_for(patient.clinic_id, protocol_id)
    day = on or timezone.now().astimezone(dt.UTC).date()
    result = surveil(history, day, settings)
    decided = {
        (d.alert_code, tuple(d.evidence))
        for d in SurveillanceDecision.objects.filter(patient=patient).only("alert_code", "evidence")
    }
    open_alerts = tuple(f for f in result.alerts if (f.code, f.evidence) not in decided)
    return PatientSurveillance(
        result=result,
        open_alerts=open_alerts,
        weight_known=weight_known,
        protocol_id=protocol_id,
        overridden=bool(settings.overridden),
    )


def decisions_for_patient(patient: Any) -> QuerySet[SurveillanceDecision]:
    return SurveillanceDecision.objects.filter(patient=patient).select_related("decided_by")


def labs_for_patient(patient: Any) -> QuerySet[LabResult]:
    return LabResult.objects.filter(patient=patient).select_related("recorded_by")


def lab_name(loinc: str) -> str:
    test = lab_test(loinc)
    return test.name if test else loinc


def followups_for_patient(patient: Any) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(patient=patient).select_related("link", "task_closed_by")


def open_followup_tasks(*, clinic: Any = None, patient: Any = None) -> QuerySet[FollowUp]:
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


def surveillance_banners(patient: Any) -> list[dict[str, str]]:
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


def clinic_watchlist(clinic: Any, *, on: dt.date | None = None) -> list[tuple[Any, PatientSurveillance]]:
    """Patients of `clinic` with an open alert or an overdue item, the most urgent first."""
    from ketaclinic.web.patients.models import Patient

    dosed = Administration.objects.filter(session__clinic=clinic).values("session__patient_id").distinct()
    patients = Patient.objects.filter(clinic=clinic, pk__in=dosed).order_by("family_name", "given_name", "pk")
    rows = []
    for p in patients:
        ev = evaluate_patient(p, on=on)
        if ev.open_alerts or ev.overdue:
            rows.append((p, ev))
    rows.sort(key=lambda r: (-len(r[1].open_alerts), -len(r[1].overdue), r[0].family_name, r[0].pk))
    return rows
