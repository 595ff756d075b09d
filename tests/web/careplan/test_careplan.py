"""Care plans per course: default activities, goals with progress from scores, statuses, safety plan, FHIR export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.accounts.models import User
from ketaclinic.web.assessments import actions as assessments
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.careplan import actions, selectors
from ketaclinic.web.careplan.fhir import care_plan_resource
from ketaclinic.web.careplan.models import CarePlan, CarePlanActivity, CarePlanGoal
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def course(clinic: Clinic, site: Site, patient: Patient, prescriber: User) -> TreatmentCourse:
    c = TreatmentCourse.objects.create(
        clinic=clinic,
        patient=patient,
        protocol_id="iv-trd",
        protocol_version=1,
        protocol_snapshot={},
        indication="TRD",
        started_by=prescriber,
        started_at=START,
    )
    DosingSession.objects.create(
        clinic=clinic,
        site=site,
        patient=patient,
        course=c,
        scheduled_for=START + dt.timedelta(days=1),
        first_dose_at=START + dt.timedelta(days=1),
        status="discharged",
    )
    return c


@pytest.fixture
def plan(prescriber: User, course: TreatmentCourse) -> CarePlan:
    return actions.do_create_care_plan(actor=prescriber, course_id=course.pk)


def phq9(actor: User, patient: Patient, total_items: list[int], at: dt.datetime) -> None:
    assessments.do_record_assessment(
        actor=actor,
        patient_id=patient.pk,
        instrument_id="phq9",
        answers=total_items,
        context="follow_up",
        assessed_at=at,
    )


def test_new_plan_has_the_default_activities_with_owners_and_due_dates(
    plan: CarePlan, prescriber: User
) -> None:
    rows = list(plan.activities.values_list("kind", "due_on", "owner_id", "status"))
    assert rows == [
        ("safety_plan", dt.date(2026, 11, 8), prescriber.pk, "planned"),
        ("dosing", dt.date(2026, 11, 29), prescriber.pk, "planned"),
        ("integration", dt.date(2026, 11, 29), None, "planned"),
        ("surveillance", dt.date(2027, 1, 30), prescriber.pk, "planned"),
        ("surveillance", dt.date(2027, 4, 30), prescriber.pk, "planned"),
    ]
    assert plan.title == "Care plan: TRD"
    with pytest.raises(ConflictError):
        actions.do_create_care_plan(actor=prescriber, course_id=plan.course_id)
    assert CarePlan.objects.count() == 1


def test_goal_progress_from_phq9_scores(plan: CarePlan, prescriber: User, patient: Patient) -> None:
    remission = actions.do_add_goal(
        actor=prescriber,
        plan_id=plan.pk,
        description="PHQ-9 remission",
        instrument_id="phq9",
        target="remission",
        owner_id=prescriber.pk,
        due_on=dt.date(2027, 2, 1),
    )
    at_most = actions.do_add_goal(
        actor=prescriber,
        plan_id=plan.pk,
        description="PHQ-9 at most 9",
        instrument_id="phq9",
        target="at_most",
        target_value="9",
        owner_id=prescriber.pk,
        due_on=dt.date(2027, 2, 1),
    )
    work = actions.do_add_goal(
        actor=prescriber,
        plan_id=plan.pk,
        description="Return to work",
        instrument_id="",
        target="none",
        owner_id=prescriber.pk,
        due_on=dt.date(2027, 3, 1),
    )
    assert [r["met"] for r in selectors.goal_progress(plan)] == [None, None, None]
    phq9(prescriber, patient, [2, 2, 2, 2, 2, 2, 2, 2, 0], START - dt.timedelta(days=2))  # 16 at baseline
    phq9(prescriber, patient, [1, 1, 1, 1, 1, 1, 1, 1, 0], START + dt.timedelta(days=10))  # 8
    progress = {r["goal"].pk: r for r in selectors.goal_progress(plan)}
    assert (progress[remission.pk]["baseline"].total, progress[remission.pk]["latest"].total) == (16, 8)
    assert (progress[remission.pk]["met"], progress[at_most.pk]["met"], progress[work.pk]["met"]) == (
        False,
        True,
        None,
    )
    actions.do_set_item_status(
        actor=prescriber, plan_id=plan.pk, item="goal", item_id=work.pk, status="achieved"
    )
    resource = care_plan_resource(plan)
    assert validate_resource(resource) == []
    achievements = {g["id"]: g["achievementStatus"]["coding"][0]["code"] for g in resource["contained"]}
    assert achievements == {
        f"goal-{remission.pk}": "in-progress",
        f"goal-{at_most.pk}": "achieved",
        f"goal-{work.pk}": "achieved",
    }
    assert {g["id"]: g["lifecycleStatus"] for g in resource["contained"]}[f"goal-{work.pk}"] == "completed"


@pytest.mark.parametrize(
    ("kw", "field", "reason"),
    [
        ({"description": ""}, "description", "required, at most 300 characters"),
        ({"target": "cure"}, "target", "must be remission, response, a score at most a value, or none"),
        ({"instrument_id": "astrology"}, "instrument_id", "is not a rating scale of the library"),
        ({"instrument_id": ""}, "instrument_id", "required for a scale target"),
        ({"target": "at_most", "target_value": "lots"}, "target_value", "required: a number from 0 to 1000"),
        ({"due_on": None}, "due_on", "required date"),
        ({"owner_id": None}, "owner", "required: who is responsible"),
    ],
)
def test_bad_goal_input_names_the_field(
    plan: CarePlan, prescriber: User, kw: dict[str, Any], field: str, reason: str
) -> None:
    base: dict[str, Any] = {
        "description": "PHQ-9 remission",
        "instrument_id": "phq9",
        "target": "remission",
        "owner_id": prescriber.pk,
        "due_on": dt.date(2027, 2, 1),
    }
    base.update(kw)
    before = (CarePlanGoal.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed) as exc:
        actions.do_add_goal(actor=prescriber, plan_id=plan.pk, **base)
    assert exc.value.fields[field] == [reason]
    assert (CarePlanGoal.objects.count(), AuditEvent.objects.count()) == before


def test_who_may_edit(plan: CarePlan, nurse: User, front_desk: User, make_user: Callable[..., User]) -> None:
    for user in (nurse, front_desk):
        with pytest.raises(PermissionDeniedError):
            actions.do_add_activity(
                actor=user,
                plan_id=plan.pk,
                kind="other",
                description="x",
                owner_id=user.pk,
                due_on=dt.date(2027, 1, 1),
            )
    therapist = make_user("therapist", username="therapist")
    a = actions.do_add_activity(
        actor=therapist,
        plan_id=plan.pk,
        kind="psychotherapy",
        description="Weekly CBT, 8 sessions",
        owner_id=therapist.pk,
        due_on=dt.date(2027, 1, 31),
    )
    assert (a.kind, a.owner_id) == ("psychotherapy", therapist.pk)
    assert CarePlanActivity.objects.filter(plan=plan).count() == 6


def test_safety_plan_sections(plan: CarePlan, prescriber: User) -> None:
    actions.do_update_safety_plan(
        actor=prescriber,
        plan_id=plan.pk,
        fields={"warning_signs": "Not sleeping", "professional_contacts": "Call or text 988"},
    )
    plan.refresh_from_db()
    assert (plan.warning_signs, plan.professional_contacts) == ("Not sleeping", "Call or text 988")
    assert care_plan_resource(plan)["note"] == [
        {
            "text": "Safety plan: Warning signs: Not sleeping | Professionals and crisis lines: Call or text 988"
        }
    ]
    with pytest.raises(ValidationFailed) as exc:
        actions.do_update_safety_plan(actor=prescriber, plan_id=plan.pk, fields={"weapons": "x"})
    assert exc.value.fields == {"weapons": ["is not a section of the safety plan"]}


def test_chart_tab_and_export(
    plan: CarePlan, prescriber: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    c = client_as(prescriber)
    html = c.get(f"/careplan/patients/{patient.pk}/").content.decode()
    assert (
        "Care plan: TRD" in html
        and "Safety surveillance: Urinalysis for blood" in html
        and "Export as FHIR CarePlan" in html
    )
    res = c.get(f"/careplan/patients/{patient.pk}/plans/{plan.pk}/careplan.json")
    assert res.status_code == 200 and res["Content-Type"] == "application/fhir+json"
    body = json.loads(res.content)
    assert body["resourceType"] == "CarePlan" and validate_resource(body) == []
    assert [a["detail"]["code"]["coding"][0]["code"] for a in body["activity"]][-1] == "dosing-session"
    assert AuditEvent.objects.filter(action="careplan.export", object_id=str(plan.pk)).count() == 1
    res = c.post(
        f"/careplan/patients/{patient.pk}/plans/{plan.pk}/goals",
        {"description": "x", "target": "remission", "due_on": "soon"},
    )
    assert (
        res.status_code == 400
        and '<span class="field-name">Due on</span>: must be a date' in res.content.decode()
    )
    assert CarePlanGoal.objects.count() == 0
    assert c.get(f"/careplan/patients/{patient.pk}/plans/999/careplan.json").status_code == 404
