"""Synthetic outcome data written straight to the tables (bulk inserts): for tests and the outcomes benchmark.

Never used on a real clinic: the records bypass the clinical actions (no dose guard, no ledger), so only a
clinic marked synthetic may receive them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from ketaclinic.core.protocols import get_protocol

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic, Site
    from ketaclinic.web.patients.models import Patient


@dataclass(frozen=True)
class CourseSpec:
    """One course: first dose time, scores as (days from the first dose, total), and what happened in it."""

    first_dose: dt.datetime | None
    scores: Sequence[tuple[float, int]] = ()
    instrument: str = "phq9"
    protocol_id: str = "iv-racemic-depression"
    indication: str = "trd"
    route: str = "iv"
    site: Site | None = None
    started_at: dt.datetime | None = None
    sessions: int = 1
    ordered_mg: Decimal = Decimal("35")
    given_mg: Decimal | None = None  # of the first session; default = ordered
    alerts: Sequence[str] = ()  # session alert codes on the first session
    side_effects: Sequence[str] = ()  # side-effect codes on the first session
    interventions: int = 0  # interventions on the first session
    cancelled_after_dose: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _require_synthetic(clinic: Clinic) -> None:
    if not clinic.is_synthetic:
        raise ValueError("synthetic outcome data may only be written to a clinic marked synthetic")


def make_course(*, clinic: Clinic, patient: Patient, actor: User, spec: CourseSpec) -> Any:
    """Write one course with its order, sessions, administrations and scores; returns the course."""
    from ketaclinic.web.treatment.models import (
        Administration,
        DosingSession,
        Intervention,
        Order,
        SessionAlert,
        SideEffect,
        TreatmentCourse,
    )

    _require_synthetic(clinic)
    protocol = get_protocol(spec.protocol_id)
    fd = spec.first_dose
    started = spec.started_at or (fd - dt.timedelta(days=1) if fd else dt.datetime.now(dt.UTC))
    with transaction.atomic():
        course = TreatmentCourse.objects.create(
            clinic=clinic,
            patient=patient,
            protocol_id=protocol.id,
            protocol_version=protocol.version,
            protocol_snapshot=dict(protocol.raw),
            indication=spec.indication,
            started_by=actor,
            started_at=started,
        )
        if fd is not None:
            order = Order.objects.create(
                course=course,
                patient=patient,
                drug=protocol.drug,
                route=spec.route,
                dose_mg=spec.ordered_mg,
                planned_for=fd,
                guard_decision="ok",
                signed_by=actor,
                signed_at=fd - dt.timedelta(hours=1),
            )
            S = DosingSession.Status
            for k in range(spec.sessions):
                at = fd + dt.timedelta(days=3 * k)
                cancelled = spec.cancelled_after_dose and k == 0
                s = DosingSession.objects.create(
                    clinic=clinic,
                    site=spec.site,
                    patient=patient,
                    course=course,
                    order=order,
                    status=S.CANCELLED if cancelled else S.DISCHARGED,
                    scheduled_for=at,
                    first_dose_at=at,
                    discharged_at=None if cancelled else at + dt.timedelta(hours=2),
                )
                given = spec.given_mg if (k == 0 and spec.given_mg is not None) else spec.ordered_mg
                Administration.objects.create(
                    session=s,
                    order=order,
                    drug=protocol.drug,
                    route=spec.route,
                    dose_mg=given,
                    lot_number="SYN-1",
                    administered_at=at,
                    administered_by=actor,
                    guard_decision="ok",
                )
                if k == 0:
                    for code in spec.alerts:
                        SessionAlert.objects.create(
                            session=s,
                            code=code,
                            level="warn",
                            message=f"Synthetic alert: {code.replace('_', ' ')}",
                            raised_at=at + dt.timedelta(minutes=20),
                        )
                    for code in spec.side_effects:
                        SideEffect.objects.create(
                            session=s,
                            code=code,
                            severity="moderate",
                            onset_at=at + dt.timedelta(minutes=15),
                            recorded_by=actor,
                        )
                    for i in range(spec.interventions):
                        Intervention.objects.create(
                            session=s,
                            description=f"Intervention {i + 1}",
                            given_at=at + dt.timedelta(minutes=25),
                            recorded_by=actor,
                        )
        anchor = fd or started
        write_scores(
            clinic=clinic,
            rows=[(patient.pk, anchor + dt.timedelta(days=d), total) for d, total in spec.scores],
            instrument=spec.instrument,
        )
    return course


def write_scores(*, clinic: Clinic, rows: Sequence[tuple[int, dt.datetime, int]], instrument: str) -> int:
    """Bulk-insert complete scores (patient id, time, total) with a minimal answers record."""
    from ketaclinic.core.instruments import load_instrument
    from ketaclinic.web.assessments.models import Assessment

    _require_synthetic(clinic)
    inst = load_instrument(instrument)
    objs = [
        Assessment(
            clinic=clinic,
            patient_id=pid,
            instrument_id=inst.id,
            instrument_version=inst.version,
            context="follow_up",
            assessed_at=at,
            answers=[],
            complete=True,
            total=total,
            source="api",
            fhir_response={},
        )
        for pid, at, total in rows
    ]
    Assessment.objects.bulk_create(objs, batch_size=5000)
    return len(objs)


def generate_clinic(
    *,
    clinic: Clinic,
    site: Site,
    actor: User,
    patients: int,
    scores_per_patient: int,
    seed: int = 1,
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """A synthetic clinic of `patients` IV courses with `scores_per_patient` PHQ-9 totals each (two before the
    first dose, the rest weekly after it, improving for about half the patients), bulk-inserted."""
    from ketaclinic.web.patients.models import Patient
    from ketaclinic.web.treatment.models import Administration, DosingSession, Order, TreatmentCourse

    _require_synthetic(clinic)
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    protocol = get_protocol("iv-racemic-depression")
    batch = 2000
    made = {"patients": 0, "courses": 0, "sessions": 0, "scores": 0}
    for start in range(0, patients, batch):
        n = min(batch, patients - start)
        with transaction.atomic():
            pts = Patient.objects.bulk_create(
                [
                    Patient(
                        clinic=clinic,
                        home_site=site,
                        mrn=f"SYN-{start + i:07d}",
                        given_name="Synthetic",
                        family_name=f"Patient {start + i}",
                        birth_date=dt.date(
                            1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)
                        ),
                        sex_at_birth=rng.choice(["female", "male"]),
                        is_synthetic=True,
                    )
                    for i in range(n)
                ]
            )
            firsts = [
                now - dt.timedelta(days=rng.randrange(20, 400), minutes=rng.randrange(600)) for _ in pts
            ]
            courses = TreatmentCourse.objects.bulk_create(
                [
                    TreatmentCourse(
                        clinic=clinic,
                        patient=p,
                        protocol_id=protocol.id,
                        protocol_version=protocol.version,
                        protocol_snapshot=dict(protocol.raw),
                        indication="trd",
                        started_by=actor,
                        started_at=fd - dt.timedelta(days=2),
                    )
                    for p, fd in zip(pts, firsts, strict=True)
                ]
            )
            orders = Order.objects.bulk_create(
                [
                    Order(
                        course=c,
                        patient=p,
                        drug="ketamine",
                        route="iv",
                        dose_mg=Decimal("35"),
                        planned_for=fd,
                        guard_decision="ok",
                        signed_by=actor,
                        signed_at=fd,
                    )
                    for c, p, fd in zip(courses, pts, firsts, strict=True)
                ]
            )
            # Six sessions per course, three days apart: (course, patient, order, dose time).
            planned = [
                (c, p, o, fd + dt.timedelta(days=3 * k))
                for c, p, o, fd in zip(courses, pts, orders, firsts, strict=True)
                for k in range(6)
            ]
            sessions = DosingSession.objects.bulk_create(
                [
                    DosingSession(
                        clinic=clinic,
                        site=site,
                        patient=p,
                        course=c,
                        order=o,
                        status="discharged",
                        scheduled_for=at,
                        first_dose_at=at,
                        discharged_at=at + dt.timedelta(hours=2),
                    )
                    for c, p, o, at in planned
                ],
                batch_size=5000,
            )
            Administration.objects.bulk_create(
                [
                    Administration(
                        session=s,
                        order=o,
                        drug="ketamine",
                        route="iv",
                        dose_mg=Decimal("35"),
                        lot_number="SYN-1",
                        administered_at=at,
                        administered_by=actor,
                        guard_decision="ok",
                    )
                    for s, (_, _, o, at) in zip(sessions, planned, strict=True)
                ],
                batch_size=5000,
            )
            rows: list[tuple[int, dt.datetime, int]] = []
            for p, fd in zip(pts, firsts, strict=True):
                base = rng.randrange(12, 27)
                improves = rng.random() < 0.55
                rows.append((p.pk, fd - dt.timedelta(days=5), min(27, base + rng.randrange(3))))
                rows.append((p.pk, fd - dt.timedelta(hours=2), base))
                for w in range(1, max(scores_per_patient - 1, 1)):
                    drift = (0.45 if improves else 0.1) * min(w, 6) / 6
                    total = round(base * (1 - drift) + rng.gauss(0, 2))
                    rows.append((p.pk, fd + dt.timedelta(days=7 * w - rng.random()), max(0, min(27, total))))
            made["scores"] += write_scores(clinic=clinic, rows=rows, instrument="phq9")
        made["patients"] += n
        made["courses"] += n
        made["sessions"] += len(sessions)
        if progress is not None:
            progress(n)
    return made
