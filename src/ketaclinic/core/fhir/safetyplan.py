"""A patient's safety plan (Stanley and Brown's safety planning intervention) as a FHIR R4 CarePlan (pure builder).

Each of the seven sections travels as one CarePlan note, titled with the section's name, in the intervention's
order; an incomplete plan is `active`, a completed one `completed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The intervention's sections in order: (field, the words people read).
SAFETY_PLAN_SECTIONS: tuple[tuple[str, str], ...] = (
    ("warning_signs", "Warning signs"),
    ("internal_coping", "Internal coping strategies"),
    ("social_distraction", "People and social settings that provide distraction"),
    ("help_contacts", "People to ask for help"),
    ("professional_contacts", "Professionals and agencies to contact in a crisis, crisis lines included"),
    ("means_safety", "Making the environment safe"),
    ("reasons_for_living", "Reasons for living"),
)


@dataclass(frozen=True, slots=True)
class SafetyPlanFacts:
    id: str
    patient_id: str
    opened_at: dt.datetime
    completed_at: dt.datetime | None
    completed_by: str | None
    sections: Sequence[tuple[str, str]]  # (field, text) in SAFETY_PLAN_SECTIONS order


def safety_plan_resource(f: SafetyPlanFacts) -> dict[str, Any]:
    """The safety plan as a CarePlan (intent plan), one note per section that has text."""
    if f.opened_at.tzinfo is None or (f.completed_at is not None and f.completed_at.tzinfo is None):
        raise ValueError("opened_at, completed_at: a FHIR dateTime with a time needs a time zone")
    names = dict(SAFETY_PLAN_SECTIONS)
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f.id,
        "status": "completed" if f.completed_at is not None else "active",
        "intent": "plan",
        "title": "Safety plan",
        "description": "Safety planning intervention (Stanley B, Brown GK. Cogn Behav Pract 2012;19:256-264)",
        "category": [{"text": "Suicide-risk safety plan"}],
        "subject": {"reference": f"Patient/{f.patient_id}"},
        "created": f.opened_at.isoformat(),
        "period": {"start": f.opened_at.isoformat()},
    }
    if f.completed_at is not None:
        plan["period"]["end"] = f.completed_at.isoformat()
    if f.completed_by:
        plan["author"] = {"display": f.completed_by}
    notes = [{"text": f"{names[k]}: {v}"} for k, v in f.sections if v.strip()]
    if notes:
        plan["note"] = notes
    return plan
