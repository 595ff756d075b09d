"""Demo care plans: one per active course for the first courses, with goals and a safety plan."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ketaclinic.web.careplan import actions

if TYPE_CHECKING:
    from ketaclinic.web.demo import DemoContext


def seed(ctx: DemoContext) -> None:
    from ketaclinic.web.treatment.models import TreatmentCourse

    therapist = ctx.staff.get("therapist.ng")
    for course in TreatmentCourse.objects.filter(clinic=ctx.clinic, status="active").order_by(
        "started_at", "pk"
    )[:6]:
        doctor = course.started_by
        plan = actions.do_create_care_plan(actor=doctor, course_id=course.pk)
        start = course.started_at.date()
        actions.do_add_goal(
            actor=doctor,
            plan_id=plan.pk,
            description="Remission of depression (PHQ-9 below 5)",
            instrument_id="phq9",
            target="remission",
            owner_id=doctor.pk,
            due_on=start + dt.timedelta(days=84),
        )
        actions.do_add_goal(
            actor=doctor,
            plan_id=plan.pk,
            description="Back at work part-time",
            instrument_id="",
            target="none",
            owner_id=(therapist or doctor).pk,
            due_on=start + dt.timedelta(days=120),
        )
        if therapist is not None:
            actions.do_add_activity(
                actor=doctor,
                plan_id=plan.pk,
                kind="psychotherapy",
                description="Weekly CBT alongside the course",
                owner_id=therapist.pk,
                due_on=start + dt.timedelta(days=56),
            )
        actions.do_update_safety_plan(
            actor=doctor,
            plan_id=plan.pk,
            fields={
                "warning_signs": "Withdrawing from friends; sleeping badly",
                "coping_strategies": "Walk outside; call a friend; breathing exercise",
                "support_contacts": "Sister (synthetic contact)",
                "professional_contacts": "Clinic on-call line; crisis line 988 (US)",
                "means_safety": "Medicines kept by a family member",
            },
        )
