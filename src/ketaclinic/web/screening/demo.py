"""Screening demo data: intake and a screening result for 20 synthetic patients, through the real actions.

Most are eligible or cleared by a prescriber, three still need review, one is ineligible. The patients whose
screening is cleared are left in `ctx.extra["cleared_patients"]` for the treatment demo (which runs next).
MRN-000011 (assessments browser test) and MRN-000045/46 (screening browser test) are never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from unittest import mock

from django.utils import timezone

from ketaclinic.web.screening import actions as S
from ketaclinic.web.screening import selectors

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.demo import DemoContext

#: Patients (indexes into ctx.patients, i.e. MRN-000001..) that get intake; index 10 (MRN-000011) is skipped.
SCREENED = [i for i in range(21) if i != 10]

# Profiles: (what makes the result, intake). Conditions are ICD-10-CM; medications RxNorm ingredient codes [R].
MDD = ("F33.2", "Major depressive disorder, recurrent severe without psychotic features")
SSRI = [("36437", "sertraline"), ("321988", "escitalopram"), ("4493", "fluoxetine")]
CLEAR_REASON = {
    "elevated_blood_pressure": "Repeat reading after rest was 134/84; BP monitored at every session.",
    "raised_intraocular_pressure": "Open-angle glaucoma controlled on drops; ophthalmology has no objection.",
}


@contextlib.contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _base_intake(p: Any, nurse: User, at: dt.datetime, rng: Any, *, systolic: int, diastolic: int) -> None:
    S.do_record_condition(
        actor=nurse,
        patient_id=p.pk,
        system="icd10cm",
        code=MDD[0],
        text=MDD[1],
        clinical_status="active",
        onset=(at - dt.timedelta(days=rng.randint(400, 4000))).date().isoformat(),
    )
    rx, name = rng.choice(SSRI)
    S.do_record_medication(
        actor=nurse,
        patient_id=p.pk,
        rxnorm=rx,
        name=name,
        status="active",
        start=(at - dt.timedelta(days=rng.randint(90, 700))).date().isoformat(),
    )
    weight = p.latest_weight()
    S.do_record_vitals(
        actor=nurse,
        patient_id=p.pk,
        systolic=systolic,
        diastolic=diastolic,
        weight_kg=weight.weight_kg if weight else Decimal(rng.randint(550, 1000)) / 10,
        pregnancy="not_pregnant" if p.sex_at_birth == "female" and rng.random() < 0.7 else "",
        measured_at=at,
    )


def seed(ctx: DemoContext) -> None:
    rng = ctx.rng
    nurses = [ctx.staff["nurse.kim"], ctx.staff["nurse.silva"]]
    doctors = [ctx.staff["dr.patel"], ctx.staff["dr.okafor"]]
    cleared: list[Any] = []
    # Which profile each screened patient gets (positions in SCREENED): most eligible, 3 cleared after review,
    # 3 left needing review, 1 ineligible.
    profile = dict.fromkeys(range(len(SCREENED)), "eligible")
    profile.update({5: "bp_cleared", 9: "glaucoma_cleared", 13: "benzo_caution"})
    profile.update({7: "sud_review", 15: "maoi_review", 17: "bp_review", 19: "psychosis_ineligible"})
    for k, idx in enumerate(SCREENED):
        p = ctx.patients[idx]
        nurse = nurses[k % 2]
        doctor = doctors[k % 2]
        at = ctx.now - dt.timedelta(days=rng.randint(3, 20), hours=rng.randint(0, 6))
        kind = profile[k]
        with _clock(at):
            sys_, dia = rng.randint(108, 132), rng.randint(66, 84)
            if kind in ("bp_cleared", "bp_review"):
                sys_, dia = rng.randint(142, 156), rng.randint(88, 96)
            _base_intake(p, nurse, at, rng, systolic=sys_, diastolic=dia)
            if kind == "glaucoma_cleared":
                S.do_record_condition(
                    actor=nurse,
                    patient_id=p.pk,
                    system="icd10cm",
                    code="H40.11",
                    text="Primary open-angle glaucoma",
                    clinical_status="active",
                )
            elif kind == "benzo_caution":
                S.do_record_medication(actor=nurse, patient_id=p.pk, rxnorm="6470", name="lorazepam")
            elif kind == "sud_review":
                S.do_record_condition(
                    actor=nurse,
                    patient_id=p.pk,
                    system="icd10cm",
                    code="F10.20",
                    text="Alcohol dependence, uncomplicated",
                    clinical_status="active",
                )
            elif kind == "maoi_review":
                S.do_record_medication(
                    actor=nurse,
                    patient_id=p.pk,
                    rxnorm="8123",
                    name="phenelzine",
                    status="stopped",
                    end=(at - dt.timedelta(days=6)).date().isoformat(),
                )
            elif kind == "psychosis_ineligible":
                S.do_record_condition(
                    actor=nurse,
                    patient_id=p.pk,
                    system="icd10cm",
                    code="F20.0",
                    text="Paranoid schizophrenia",
                    clinical_status="remission",
                )
        run = selectors.screening_latest(p)
        assert run is not None
        if kind in ("bp_cleared", "glaucoma_cleared"):
            with _clock(at + dt.timedelta(hours=rng.randint(2, 30))):
                for f in selectors.screening_outstanding(run):
                    S.do_review_finding(
                        actor=doctor,
                        patient_id=p.pk,
                        run_id=run.pk,
                        finding_code=str(f["code"]),
                        reason=CLEAR_REASON[str(f["code"])],
                    )
        if selectors.screening_is_cleared(p):
            cleared.append(p)
    ctx.extra["cleared_patients"] = cleared
