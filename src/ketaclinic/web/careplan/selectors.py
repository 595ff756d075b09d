"""Reads for care plans: a course's plan, each goal's progress from the scores on file, the plan's activity list."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from ketaclinic.web.careplan.models import CarePlan, CarePlanGoal

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


def plans_for_patient(patient: Patient) -> QuerySet[CarePlan]:
    return CarePlan.objects.filter(patient=patient).select_related("course", "created_by")


def goal_progress(plan: CarePlan) -> list[dict[str, Any]]:
    """Each goal with its baseline and latest score and whether its target is met now (None: no scale or no score).

    Response and remission use the instrument's own rules (the assessments app's outcome of the series)."""
    from ketaclinic.web.assessments.selectors import trends_for_patient

    trends = {t.definition.id: t for t in trends_for_patient(plan.patient)}
    rows = []
    for g in plan.goals.select_related("owner"):
        trend = trends.get(g.instrument_id) if g.instrument_id else None
        outcome = trend.outcome if trend is not None else None
        met: bool | None = None
        if outcome is not None and outcome.latest is not None:
            if g.target == CarePlanGoal.Target.REMISSION:
                met = outcome.remission
            elif g.target == CarePlanGoal.Target.RESPONSE:
                met = outcome.response
            elif g.target == CarePlanGoal.Target.AT_MOST and g.target_value is not None:
                met = Decimal(str(outcome.latest.total)) <= g.target_value
        if g.status == CarePlanGoal.Status.ACHIEVED:
            met = True
        rows.append(
            {
                "goal": g,
                "instrument": trend.definition.short_title if trend is not None else "",
                "baseline": outcome.baseline if outcome is not None else None,
                "latest": outcome.latest if outcome is not None else None,
                "met": met,
            }
        )
    return rows


def plan_sessions(plan: CarePlan) -> tuple[list[Any], list[Any]]:
    """The course's dosing sessions and the patient's therapy sessions linked to them or held during the course."""
    from ketaclinic.web.therapy.selectors import sessions_for_patient as therapy_sessions
    from ketaclinic.web.treatment.selectors import sessions_for_patient as dosing_sessions

    dosing = list(
        dosing_sessions(plan.patient).filter(course=plan.course).order_by("scheduled_for", "pk")[:100]
    )
    therapy = list(
        therapy_sessions(plan.patient)
        .filter(held_at__gte=plan.course.started_at)
        .order_by("held_at", "pk")[:100]
    )
    return dosing, therapy
