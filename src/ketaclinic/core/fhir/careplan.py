"""A treatment course's care plan as a FHIR R4 CarePlan with contained Goals (pure dict builder; validate at the boundary).

Goals are contained resources referenced from `CarePlan.goal`; each planned item (dosing schedule, preparation,
integration and psychotherapy sessions, surveillance, safety-plan review) is an `activity.detail` with its owner
as performer and its due date as the scheduled period; completed sessions point at their Encounter through
`activity.outcomeReference`. The safety plan travels as a CarePlan note.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Local code system for care-plan activity kinds and goal measures without a standard code.
CAREPLAN_SYSTEM = "https://ketaclinic.example/fhir/CodeSystem/care-plan"
ACTIVITY_STATUSES = frozenset(
    {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown"}
)
GOAL_LIFECYCLE = frozenset({"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled"})
GOAL_ACHIEVEMENT = frozenset(
    {"in-progress", "improving", "worsening", "no-change", "achieved", "not-achieved"}
)


@dataclass(frozen=True, slots=True)
class GoalFacts:
    key: str
    description: str
    lifecycle_status: str
    achievement: str | None = None
    measure_code: str | None = None
    measure_display: str | None = None
    target_text: str | None = None
    target_max: float | None = None
    due_on: dt.date | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    kind: str
    kind_display: str
    description: str
    status: str
    due_on: dt.date | None = None
    scheduled_at: dt.datetime | None = None
    owner: str | None = None
    outcome_reference: str | None = None


@dataclass(frozen=True, slots=True)
class CarePlanFacts:
    id: str
    patient_id: str
    status: str
    title: str
    created: dt.datetime
    author: str
    start: dt.date
    goals: Sequence[GoalFacts]
    activities: Sequence[ActivityFacts]
    safety_plan: str = ""
    description: str = ""


def _aware(value: dt.datetime, path: str) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{path}: a FHIR dateTime with a time needs a time zone")
    return value.isoformat(timespec="seconds")


def goal_resource(g: GoalFacts, patient_id: str) -> dict[str, Any]:
    if g.lifecycle_status not in GOAL_LIFECYCLE:
        raise ValueError(f"goal {g.key}: lifecycle_status {g.lifecycle_status!r}")
    out: dict[str, Any] = {
        "resourceType": "Goal",
        "id": g.key,
        "lifecycleStatus": g.lifecycle_status,
        "description": {"text": g.description},
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if g.achievement is not None:
        if g.achievement not in GOAL_ACHIEVEMENT:
            raise ValueError(f"goal {g.key}: achievement {g.achievement!r}")
        out["achievementStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": g.achievement}
            ]
        }
    target: dict[str, Any] = {}
    if g.measure_code:
        target["measure"] = {
            "coding": [
                {
                    "system": CAREPLAN_SYSTEM,
                    "code": g.measure_code,
                    "display": g.measure_display or g.measure_code,
                }
            ],
            "text": g.measure_display or g.measure_code,
        }
    if g.target_max is not None:
        target["detailRange"] = {"high": {"value": g.target_max}}
    elif g.target_text:
        target["detailString"] = g.target_text
    if g.due_on is not None:
        target["dueDate"] = g.due_on.isoformat()
    if target:
        out["target"] = [target]
    if g.owner:
        out["expressedBy"] = {"display": g.owner}
    return out


def activity_element(a: ActivityFacts) -> dict[str, Any]:
    if a.status not in ACTIVITY_STATUSES:
        raise ValueError(f"activity {a.kind}: status {a.status!r}")
    detail: dict[str, Any] = {
        "code": {
            "coding": [{"system": CAREPLAN_SYSTEM, "code": a.kind, "display": a.kind_display}],
            "text": a.kind_display,
        },
        "status": a.status,
        "description": a.description,
    }
    if a.scheduled_at is not None:
        detail["scheduledPeriod"] = {"start": _aware(a.scheduled_at, f"activity {a.kind}.scheduled_at")}
    elif a.due_on is not None:
        detail["scheduledPeriod"] = {"end": a.due_on.isoformat()}
    if a.owner:
        detail["performer"] = [{"display": a.owner}]
    out: dict[str, Any] = {"detail": detail}
    if a.outcome_reference:
        out["outcomeReference"] = [{"reference": a.outcome_reference}]
    return out


def careplan_resource(f: CarePlanFacts) -> dict[str, Any]:
    """The CarePlan, its Goals contained and referenced as `#<key>`."""
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f.id,
        "status": f.status,
        "intent": "plan",
        "title": f.title,
        "subject": {"reference": f"Patient/{f.patient_id}"},
        "period": {"start": f.start.isoformat()},
        "created": _aware(f.created, "created"),
        "author": {"display": f.author},
        "category": [{"text": "Ketamine treatment course"}],
    }
    if f.description:
        plan["description"] = f.description
    if f.goals:
        plan["contained"] = [goal_resource(g, f.patient_id) for g in f.goals]
        plan["goal"] = [{"reference": f"#{g.key}"} for g in f.goals]
    if f.activities:
        plan["activity"] = [activity_element(a) for a in f.activities]
    if f.safety_plan:
        plan["note"] = [{"text": f"Safety plan: {f.safety_plan}"}]
    return plan
