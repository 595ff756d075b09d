"""Demo pain patients: a CRPS series and fibromyalgia with opioid tapers, a fentanyl patch, methadone, buprenorphine
(not convertible) and one without opioids; PEG scores before and after. Each is screened, consents and starts a
chronic-pain course through the real actions; no dosing sessions are run (cheap): the baseline is the course start."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.pain import actions

if TYPE_CHECKING:
    from ketaclinic.web.demo import DemoContext
    from ketaclinic.web.patients.models import Patient

# (kind, detail, course started days ago, opioid lines, taper steps, PEG answers before -> after, overdose history)
# line: (rxcui, route, dose, unit, doses per day, started days ago); step: (line index, new dose, days ago)
PAIN_PATIENTS: list[dict[str, Any]] = [
    {
        "kind": "crps",
        "started": 90,
        "lines": [("7804", "oral", "20", "mg", "2", 400)],
        "steps": [(0, "15", 70), (0, "10", 35)],
        "peg": ([8, 8, 7], [5, 4, 4]),
    },
    {
        "kind": "fibromyalgia",
        "started": 100,
        "lines": [("10689", "oral", "50", "mg", "4", 300)],
        "steps": [(0, "50", 60, "2")],
        "peg": ([7, 7, 7], [5, 5, 5]),
    },
    {
        "kind": "neuropathic",
        "started": 95,
        "lines": [("4337", "transdermal", "25", "mcg/h", None, 500)],
        "steps": [(0, "12", 50)],
        "peg": ([8, 7, 7], [6, 6, 5]),
    },
    {
        "kind": "crps",
        "started": 40,
        "lines": [("6813", "oral", "10", "mg", "3", 700)],
        "steps": [],
        "peg": ([9, 8, 8], [8, 8, 7]),
        "overdose": True,
    },
    {
        "kind": "migraine",
        "started": 60,
        "lines": [("1819", "sublingual", "8", "mg", "2", 365)],
        "steps": [],
        "peg": ([7, 6, 6], [4, 4, 3]),
    },
    {"kind": "fibromyalgia", "started": 30, "lines": [], "steps": [], "peg": ([6, 6, 5], [4, 4, 4])},
]


def _course(patient: Patient, doctor: Any, cosigner: Any, started: dt.datetime) -> Any:
    from ketaclinic.web.screening.actions import do_record_consent
    from ketaclinic.web.treatment.actions import do_start_course
    from ketaclinic.web.treatment.demo import _clock, clear_screening

    clear_screening(patient, doctor, "iv", started - dt.timedelta(days=1), cosigner)
    with _clock(started):
        do_record_consent(
            actor=doctor,
            patient_id=patient.pk,
            indication="chronic_pain",
            product="ketamine_racemic",
            patient_acknowledged_off_label=True,
        )
        return do_start_course(
            actor=doctor,
            patient_id=patient.pk,
            protocol_id="iv-ketamine-chronic-pain",
            indication="chronic_pain",
        )


#: Patients other tests need untouched: MRN-000011 (assessments browser test), MRN-000045/46 (the screening
#: browser test screens them from nothing).
_RESERVED_MRNS = frozenset({"MRN-000011", "MRN-000045", "MRN-000046"})


def _pick(ctx: DemoContext, n: int) -> list[Any]:
    """The last `n` patients with a weight, no open suicide alert and no course yet (the other demos take the first)."""
    from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert

    out = []
    for p in reversed(ctx.patients):
        if p.mrn in _RESERVED_MRNS:
            continue
        if p.latest_weight() is None or has_unacknowledged_suicide_alert(p) or p.treatment_courses.exists():
            continue
        out.append(p)
        if len(out) == n:
            break
    return out


def seed(ctx: DemoContext) -> None:
    doctor, cosigner, nurse = ctx.staff["dr.okafor"], ctx.staff["dr.patel"], ctx.staff["nurse.silva"]
    today = timezone.localdate()
    chosen = _pick(ctx, len(PAIN_PATIENTS))
    for patient, spec in zip(chosen, PAIN_PATIENTS, strict=False):
        started = ctx.now - dt.timedelta(days=spec["started"])
        course = _course(patient, doctor, cosigner, started)
        actions.do_set_pain_indication(actor=doctor, course_id=course.pk, kind=spec["kind"])
        meds = [
            actions.do_add_opioid_medication(
                actor=nurse,
                patient_id=patient.pk,
                rxcui=rx,
                route=route,
                dose=dose,
                unit=unit,
                doses_per_day=dpd,
                started_on=today - dt.timedelta(days=ago),
            )
            for rx, route, dose, unit, dpd, ago in spec["lines"]
        ]
        for step in spec["steps"]:
            k, dose, ago = step[0], step[1], step[2]
            meds[k] = actions.do_change_opioid_dose(
                actor=nurse,
                medication_id=meds[k].pk,
                dose=dose,
                doses_per_day=step[3] if len(step) > 3 else meds[k].doses_per_day,
                changed_on=today - dt.timedelta(days=ago),
            )
        if spec.get("overdose"):
            actions.do_set_overdose_history(actor=nurse, patient_id=patient.pk, overdose_history=True)
        before, after = spec["peg"]
        for answers, when, context in (
            (before, started - dt.timedelta(days=1), "baseline"),
            (after, min(ctx.now - dt.timedelta(days=1), started + dt.timedelta(days=28)), "follow_up"),
        ):
            do_record_assessment(
                actor=nurse, patient_id=patient.pk, instrument_id="peg", answers=answers,
                context=context, assessed_at=when,
            )  # fmt: skip
    ctx.extra["pain_patients"] = [p.pk for p in chosen]
