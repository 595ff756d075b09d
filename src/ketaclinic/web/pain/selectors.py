"""Reads of the pain programme: opioid lines, the load now and over time, baseline, change, clinic share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from ketaclinic.core.pain.mme import MmeResult, load_mme_table
from ketaclinic.core.pain.sparing import (
    LoadPoint,
    OpioidLine,
    SparingChange,
    SparingShare,
    change_at,
    load_on,
    load_series,
    mme_on,
    sparing_share,
)
from ketaclinic.web.pain.models import (
    CoursePainIndication,
    LastOpioidDose,
    NaloxoneOffer,
    OpioidMedication,
    OpioidRiskFactors,
)

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

PAIN_INDICATION = "chronic_pain"
#: How long a recorded naloxone offer answers the prompt (ketaclinic default; CDC 2022 asks to offer it, not how often).
NALOXONE_OFFER_VALID_DAYS = 365
CHANGE_WEEKS = (4, 12)


def pain_courses(patient: Patient) -> QuerySet[Any]:
    from ketaclinic.web.treatment.models import TreatmentCourse

    return TreatmentCourse.objects.filter(patient=patient, indication=PAIN_INDICATION).order_by(
        "started_at", "pk"
    )


def indications_for(courses: list[Any]) -> dict[int, CoursePainIndication]:
    return {i.course_id: i for i in CoursePainIndication.objects.filter(course__in=courses)}


def medications_for(patient: Patient) -> list[OpioidMedication]:
    return list(OpioidMedication.objects.filter(patient=patient).select_related("recorded_by"))


def as_line(m: OpioidMedication) -> OpioidLine:
    return OpioidLine(m.rxcui, m.route, m.dose, m.unit, m.doses_per_day, m.started_on, m.stopped_on)


def lines_for(patient: Patient) -> list[OpioidLine]:
    return [as_line(m) for m in OpioidMedication.objects.filter(patient=patient)]


def benzodiazepine_on_file(patient: Patient) -> bool:
    """A benzodiazepine in the patient's latest screening (intake medications, `benzodiazepine_use`)."""
    return any(f.get("code") == "benzodiazepine_use" for f in _screening_findings(patient))


def cns_caution(patient: Patient) -> str | None:
    """The screening's CNS-depressant caution message, when the latest screening raised it."""
    for f in _screening_findings(patient):
        if f.get("code") == "cns_depressant_use":
            return str(f.get("message", ""))
    return None


def _screening_findings(patient: Patient) -> list[dict[str, Any]]:
    from ketaclinic.web.screening.selectors import screening_latest

    run = screening_latest(patient)
    return list(run.findings) if run is not None else []


def overdose_history(patient: Patient) -> bool:
    row = OpioidRiskFactors.objects.filter(patient=patient).first()
    return bool(row and row.overdose_history)


def latest_naloxone_offer(patient: Patient) -> NaloxoneOffer | None:
    return NaloxoneOffer.objects.filter(patient=patient).first()


def naloxone_offer_current(patient: Patient, now: dt.datetime) -> NaloxoneOffer | None:
    offer = latest_naloxone_offer(patient)
    if offer is None or offer.offered_at < now - dt.timedelta(days=NALOXONE_OFFER_VALID_DAYS):
        return None
    return offer


def current_load(patient: Patient, day: dt.date | None = None) -> MmeResult:
    """Today's opioid load with the benzodiazepine and overdose-history findings."""
    return mme_on(
        lines_for(patient),
        day or timezone.localdate(),
        benzodiazepine=benzodiazepine_on_file(patient),
        overdose_history=overdose_history(patient),
    )


def baseline_day(patient: Patient) -> dt.date | None:
    """The day of the first ketamine dose of the first pain course; its start day when not dosed yet."""
    course = pain_courses(patient).first()
    if course is None:
        return None
    from ketaclinic.web.treatment.models import DosingSession

    first = (
        DosingSession.objects.filter(
            course__patient=patient, course__indication=PAIN_INDICATION, first_dose_at__isnull=False
        )
        .order_by("first_dose_at")
        .values_list("first_dose_at", flat=True)
        .first()
    )
    return timezone.localdate(first or course.started_at)


def visit_days(patient: Patient) -> list[dt.date]:
    """Days the patient was seen: ketamine doses and pain scores (PEG, pain NRS)."""
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.treatment.models import DosingSession

    doses = DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False).values_list(
        "first_dose_at", flat=True
    )
    scores = Assessment.objects.filter(patient=patient, instrument_id__in=("peg", "pain-nrs")).values_list(
        "assessed_at", flat=True
    )
    return sorted({timezone.localdate(t) for t in (*doses, *scores)})


@dataclass(frozen=True)
class PainSummary:
    load: MmeResult
    baseline_day: dt.date | None
    baseline: LoadPoint | None
    changes: list[tuple[int, SparingChange | None]]
    series: list[LoadPoint]
    visits: list[LoadPoint]
    benzodiazepine: bool
    overdose_history: bool
    naloxone_offer: NaloxoneOffer | None


def pain_summary(patient: Patient, today: dt.date | None = None) -> PainSummary:
    today = today or timezone.localdate()
    lines = lines_for(patient)
    table = load_mme_table()
    benzo, overdose = benzodiazepine_on_file(patient), overdose_history(patient)
    load = mme_on(lines, today, benzodiazepine=benzo, overdose_history=overdose, table=table)
    base_day = baseline_day(patient)
    starts = [ln.start for ln in lines] + ([base_day] if base_day else [])
    first = min(starts) if starts else today
    visits = [d for d in visit_days(patient) if d <= today]
    series = load_series(lines, min([first, today, *visits]), today, table, visits=visits)
    return PainSummary(
        load=load,
        baseline_day=base_day,
        baseline=load_on(lines, base_day, table) if base_day else None,
        changes=[
            (w, change_at(lines, base_day, w, today, table) if base_day else None) for w in CHANGE_WEEKS
        ],
        series=series,
        visits=[p for p in series if p.day in set(visits)],
        benzodiazepine=benzo,
        overdose_history=overdose,
        naloxone_offer=naloxone_offer_current(patient, timezone.now()),
    )


def last_opioid_dose(session: Any) -> LastOpioidDose | None:
    return LastOpioidDose.objects.filter(session=session).select_related("medication").first()


def pain_patients(clinic: Clinic) -> QuerySet[Any]:
    from ketaclinic.web.patients.models import Patient

    return (
        Patient.objects.filter(clinic=clinic, treatment_courses__indication=PAIN_INDICATION)
        .distinct()
        .order_by("family_name", "given_name", "pk")
    )


@dataclass(frozen=True)
class CohortRow:
    patient: Patient
    baseline: LoadPoint | None
    current: LoadPoint
    pct_change: Any


def clinic_sparing(clinic: Clinic, today: dt.date | None = None) -> tuple[SparingShare, list[CohortRow]]:
    """Every pain patient's baseline and current load, and the clinic's share whose load fell by the threshold."""
    from ketaclinic.core.pain.sparing import pct_change

    today = today or timezone.localdate()
    table = load_mme_table()
    rows: list[CohortRow] = []
    pairs: list[tuple[LoadPoint, LoadPoint]] = []
    for patient in pain_patients(clinic):
        lines = lines_for(patient)
        base_day = baseline_day(patient)
        current = load_on(lines, today, table)
        base = load_on(lines, base_day, table) if base_day else None
        if base is not None:
            pairs.append((base, current))
        rows.append(
            CohortRow(patient, base, current, pct_change(base.total, current.total) if base else None)
        )
    return sparing_share(pairs, table), rows
