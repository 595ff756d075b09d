"""Demo therapy data: preparation and integration sessions around dosed sessions, one private psychotherapy note."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ketaclinic.web.therapy import actions

if TYPE_CHECKING:
    from ketaclinic.web.demo import DemoContext

INTENTIONS = [
    "Notice what comes up without judging it",
    "Reconnect with what matters to me",
    "Let go of control",
]
THEMES = [
    "Grief and acceptance",
    "Work stress and boundaries",
    "Reconnecting with family",
    "Sleep and routine",
]


def seed(ctx: DemoContext) -> None:
    from ketaclinic.web.treatment.models import DosingSession

    therapist = ctx.staff.get("therapist.ng")
    if therapist is None:
        return
    dosed = list(
        DosingSession.objects.filter(
            clinic=ctx.clinic, first_dose_at__isnull=False, first_dose_at__lt=ctx.now - dt.timedelta(days=1)
        ).order_by("first_dose_at", "pk")[:8]
    )
    for k, s in enumerate(dosed):
        first_dose = s.first_dose_at
        if first_dose is None:  # excluded by the query; the column itself is nullable
            continue
        actions.do_record_therapy_session(
            actor=therapist,
            patient_id=s.patient_id,
            kind="preparation",
            approach="integration",
            modality="video",
            dosing_session_id=s.pk,
            held_at=first_dose - dt.timedelta(days=1, hours=2),
            duration_min=45,
            intention=INTENTIONS[k % len(INTENTIONS)],
            wellbeing=4 + k % 3,
        )
        actions.do_record_therapy_session(
            actor=therapist,
            patient_id=s.patient_id,
            kind="integration",
            approach="integration" if k % 2 else "cbt",
            modality="in_person" if k % 2 else "telephone",
            dosing_session_id=s.pk,
            held_at=first_dose + dt.timedelta(hours=20),
            duration_min=50,
            themes=THEMES[k % len(THEMES)],
            plan="Journal daily; notice one moment of connection each day",
            wellbeing=5 + k % 4,
            session_rating=7 + k % 3,
            note_text=(
                "Synthetic demo psychotherapy note: visible only to the therapist who wrote it."
                if k == 0
                else ""
            ),
        )
