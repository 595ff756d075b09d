"""A care plan as a FHIR R4 CarePlan (facts for ketaclinic.core.fhir.careplan), validated before it leaves."""

from __future__ import annotations

from typing import Any

from ketaclinic.core.fhir.careplan import ActivityFacts, CarePlanFacts, GoalFacts, careplan_resource
from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.web.careplan import selectors
from ketaclinic.web.careplan.models import CarePlan, CarePlanActivity, CarePlanGoal

_PLAN_STATUS = {"active": "active", "completed": "completed", "revoked": "revoked"}
_GOAL_LIFECYCLE = {"active": "active", "achieved": "completed", "cancelled": "cancelled"}
_ACTIVITY_STATUS = {"planned": "not-started", "done": "completed", "cancelled": "cancelled"}
_DOSING_STATUS = {"scheduled": "scheduled", "discharged": "completed", "cancelled": "cancelled"}


def _who(user: Any) -> str | None:
    return str(user) if user is not None else None


def _safety_text(plan: CarePlan) -> str:
    parts = [
        ("Warning signs", plan.warning_signs),
        ("Coping strategies", plan.coping_strategies),
        ("People and places for support", plan.support_contacts),
        ("Professionals and crisis lines", plan.professional_contacts),
        ("Making the environment safe", plan.means_safety),
    ]
    return " | ".join(f"{label}: {text}" for label, text in parts if text)


def care_plan_facts(plan: CarePlan) -> CarePlanFacts:
    goals = []
    for row in selectors.goal_progress(plan):
        g: CarePlanGoal = row["goal"]
        achievement = None
        if g.status == CarePlanGoal.Status.ACTIVE:
            achievement = "achieved" if row["met"] else "in-progress"
        elif g.status == CarePlanGoal.Status.ACHIEVED:
            achievement = "achieved"
        goals.append(
            GoalFacts(
                key=f"goal-{g.pk}",
                description=g.description,
                lifecycle_status=_GOAL_LIFECYCLE[g.status],
                achievement=achievement,
                measure_code=g.instrument_id or None,
                measure_display=row["instrument"] or None,
                target_text=g.get_target_display(),
                target_max=float(g.target_value) if g.target_value is not None else None,
                due_on=g.due_on,
                owner=_who(g.owner),
            )
        )
    activities = [
        ActivityFacts(
            kind=a.kind,
            kind_display=a.get_kind_display(),
            description=a.description,
            status=_ACTIVITY_STATUS[a.status],
            due_on=a.due_on,
            owner=_who(a.owner),
        )
        for a in plan.activities.select_related("owner")
    ]
    dosing, therapy = selectors.plan_sessions(plan)
    for s in dosing:
        status = _DOSING_STATUS.get(s.status, "in-progress")
        activities.append(
            ActivityFacts(
                kind="dosing-session",
                kind_display="Dosing session",
                description=f"Dosing session ({s.get_status_display().lower()})",
                status=status,
                scheduled_at=s.scheduled_for,
                outcome_reference=f"Encounter/{s.pk}" if status == "completed" else None,
            )
        )
    for t in therapy:
        activities.append(
            ActivityFacts(
                kind=t.kind,
                kind_display=t.get_kind_display(),
                description=f"{t.get_kind_display()} ({t.get_approach_display().lower()})",
                status="completed",
                scheduled_at=t.held_at,
                owner=_who(t.therapist),
                outcome_reference=f"Encounter/therapy-{t.pk}",
            )
        )
    return CarePlanFacts(
        id=str(plan.pk),
        patient_id=str(plan.patient_id),
        status=_PLAN_STATUS[plan.status],
        title=plan.title,
        created=plan.created_at,
        author=str(plan.created_by),
        start=plan.course.started_at.date(),
        goals=goals,
        activities=activities,
        safety_plan=_safety_text(plan),
        description=f"Course: {plan.course.indication}, protocol {plan.course.protocol_id}",
    )


def care_plan_resource(plan: CarePlan) -> dict[str, Any]:
    return require_valid(careplan_resource(care_plan_facts(plan)))


__all__ = ["CarePlanActivity", "care_plan_facts", "care_plan_resource"]
