"""Long-term safety demo: four synthetic patients with a year of ketamine history, seeded cheaply.

Their past doses are written as treatment history rows directly (a course, and per session a signed order, a
discharged session and its administration), not through the session workflow and the ledger: a year of
maintenance for four patients would otherwise dominate the demo's seeding time. Questionnaires go through the
assessments action and lab results through this app's action, so they are scored, coded and audited as in use.

- Maintenance, up to date: induction (6 sessions in 2 weeks) then every 3 weeks for a year; every screen done.
- Rising bladder symptoms: the same course; BPIC-SS 6 -> 12 -> 17 -> 22 and the latest urine dipstick 2+
  (bladder-symptom and haematuria alerts). The browser test follows this patient.
- Escalation: 10 sessions whose dose rose from 0.5 to 0.7 mg/kg (escalation/tolerance alert).
- Overdue screens: a year of maintenance whose last BPIC-SS, SDS and cognitive screen were 4 months ago.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ketaclinic.core.protocols import get_protocol
from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.surveillance.actions import do_record_lab_result
from ketaclinic.web.treatment.models import Administration, DosingSession, Order, TreatmentCourse

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.demo import DemoContext

DEMO_PROTOCOL = "iv-racemic-depression"
#: Demo patients by role, for the browser test and the docs.
ROLES = ("maintenance", "bladder", "escalation", "overdue")


def seed_dose_history(
    patient: Patient,
    *,
    prescriber: User,
    nurse: User,
    doses: Sequence[tuple[dt.datetime, Decimal]],
    protocol_id: str = DEMO_PROTOCOL,
    ended_at: dt.datetime | None = None,
) -> TreatmentCourse:
    """Write a course and one discharged session with one administration per dose (historical record)."""
    first = doses[0][0]
    protocol = get_protocol(protocol_id)
    course = TreatmentCourse.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        protocol_id=protocol_id,
        protocol_version=protocol.version,
        protocol_snapshot=dict(protocol.raw),
        indication="Treatment-resistant depression",
        status=TreatmentCourse.Status.COMPLETED if ended_at else TreatmentCourse.Status.ACTIVE,
        started_by=prescriber,
        started_at=first - dt.timedelta(days=1),
        ended_at=ended_at,
        end_reason="Course completed" if ended_at else "",
    )
    weight = patient.latest_weight()
    for at, mg in doses:
        order = Order.objects.create(
            course=course,
            patient=patient,
            drug="ketamine",
            route="iv",
            dose_mg=mg,
            dose_mg_per_kg=(mg / weight.weight_kg).quantize(Decimal("0.001")) if weight else None,
            duration_min=40,
            weight_kg=weight.weight_kg if weight else None,
            planned_for=at,
            guard_decision="allow",
            signed_by=prescriber,
            signed_at=at - dt.timedelta(days=1),
        )
        session = DosingSession.objects.create(
            clinic_id=patient.clinic_id,
            site=patient.home_site,
            patient=patient,
            course=course,
            order=order,
            status=DosingSession.Status.DISCHARGED,
            scheduled_for=at,
            checked_in_at=at - dt.timedelta(minutes=30),
            first_dose_at=at,
            dose_ended_at=at + dt.timedelta(minutes=40),
            discharged_at=at + dt.timedelta(minutes=90),
            discharged_by=nurse,
        )
        Administration.objects.create(
            session=session,
            order=order,
            drug="ketamine",
            route="iv",
            dose_mg=mg,
            duration_min=40,
            lot_number="HISTORY",
            administered_at=at,
            administered_by=nurse,
            guard_decision="allow",
        )
    return course


def maintenance_days(days_ago_start: int) -> list[int]:
    """Days ago of an induction (6 sessions in 2 weeks) then a session every 3 weeks up to about today."""
    start = days_ago_start
    days = [start - d for d in (0, 2, 4, 7, 9, 11)]
    d = days[-1] - 21
    while d >= 3:
        days.append(d)
        d -= 21
    return days


def _at(now: dt.datetime, days_ago: int, hour: int = 17) -> dt.datetime:
    return (now - dt.timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)


def _bpic(total: int) -> list[int]:
    """BPIC-SS answers adding up to `total` (items 1-7 are 0-4, item 8 is 0-10)."""
    out = []
    left = total
    for cap in (4, 4, 4, 4, 4, 4, 4, 10):
        v = min(cap, left)
        out.append(v)
        left -= v
    return out


def _screens(
    patient: Patient, nurse: User, prescriber: User, at: dt.datetime, *, bpic: int, sds: int, cog: int
) -> None:
    sds_answers = [min(3, max(0, sds - 3 * k)) for k in range(5)]
    for actor, iid, answers in (
        (nurse, "bpic-ss", _bpic(bpic)),
        (nurse, "sds", sds_answers),
        (prescriber, "cognition", [cog]),
    ):
        do_record_assessment(
            actor=actor,
            patient_id=patient.pk,
            instrument_id=iid,
            answers=answers,
            context="follow_up",
            assessed_at=at,
        )


def _dipstick(nurse: User, patient: Patient, at: dt.datetime, value: str) -> None:
    do_record_lab_result(actor=nurse, patient_id=patient.pk, loinc="5794-3", value=value, taken_at=at)


def _alt(nurse: User, patient: Patient, at: dt.datetime, value: int) -> None:
    do_record_lab_result(
        actor=nurse,
        patient_id=patient.pk,
        loinc="1742-6",
        value=value,
        unit="U/L",
        reference_high=40,
        taken_at=at,
    )


def _pick(ctx: DemoContext, count: int) -> list[Any]:
    used = set(TreatmentCourse.objects.filter(clinic=ctx.clinic).values_list("patient_id", flat=True))
    out = [p for p in ctx.patients if p.pk not in used and p.latest_weight() is not None]
    return out[-count:]


def seed(ctx: DemoContext) -> None:
    prescriber = ctx.staff["dr.patel"]
    nurse = ctx.staff["nurse.kim"]
    now = timezone.now()
    picked = _pick(ctx, len(ROLES))
    if len(picked) < len(ROLES):
        return
    patients = dict(zip(ROLES, picked, strict=True))
    ctx.extra["surveillance_patients"] = patients

    def dose_mg(p: Patient, per_kg: str) -> Decimal:
        weight = p.latest_weight()
        if weight is None:
            raise ValueError(f"demo patient {p.pk} has no weight")
        return (Decimal(per_kg) * weight.weight_kg).quantize(Decimal("0.1"))

    # 1. A year of maintenance, every screen up to date.
    p = patients["maintenance"]
    days = maintenance_days(360)
    seed_dose_history(
        p, prescriber=prescriber, nurse=nurse, doses=[(_at(now, d), dose_mg(p, "0.5")) for d in days]
    )
    for d in (361, 275, 185, 95, 10):
        _screens(p, nurse, prescriber, _at(now, d, 16), bpic=3, sds=1, cog=28)
    for d in (361, 185, 10):
        _dipstick(nurse, p, _at(now, d, 16), "negative")
    _alt(nurse, p, _at(now, 100, 16), 28)

    # 2. Rising bladder symptoms and blood in the urine.
    p = patients["bladder"]
    seed_dose_history(
        p,
        prescriber=prescriber,
        nurse=nurse,
        doses=[(_at(now, d), dose_mg(p, "0.5")) for d in maintenance_days(350)],
    )
    for d, total in ((351, 6), (260, 12), (170, 17), (20, 22)):
        _screens(p, nurse, prescriber, _at(now, d, 16), bpic=total, sds=1, cog=27)
    for d, value in ((351, "negative"), (170, "trace"), (20, "2+")):
        _dipstick(nurse, p, _at(now, d, 16), value)
    _alt(nurse, p, _at(now, 160, 16), 31)

    # 3. Escalating doses: 10 sessions, 0.5 -> 0.7 mg/kg.
    p = patients["escalation"]
    per_kg = ["0.5", "0.5", "0.5", "0.5", "0.55", "0.6", "0.6", "0.65", "0.7", "0.7"]
    seed_dose_history(
        p,
        prescriber=prescriber,
        nurse=nurse,
        doses=[(_at(now, 40 - 4 * k), dose_mg(p, f)) for k, f in enumerate(per_kg)],
    )
    _screens(p, nurse, prescriber, _at(now, 41, 16), bpic=4, sds=2, cog=29)
    _dipstick(nurse, p, _at(now, 41, 16), "negative")

    # 4. Maintenance with screens four months old.
    p = patients["overdue"]
    seed_dose_history(
        p,
        prescriber=prescriber,
        nurse=nurse,
        doses=[(_at(now, d), dose_mg(p, "0.5")) for d in maintenance_days(300)],
    )
    for d in (301, 210, 120):
        _screens(p, nurse, prescriber, _at(now, d, 16), bpic=5, sds=0, cog=28)
    for d in (301, 120):
        _dipstick(nurse, p, _at(now, d, 16), "negative")
    _alt(nurse, p, _at(now, 120, 16), 25)
