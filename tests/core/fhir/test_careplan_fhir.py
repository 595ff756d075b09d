"""FHIR CarePlan builder: contained Goals referenced from the plan, activities with owners and dates, R4B-valid."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.core.fhir.careplan import ActivityFacts, CarePlanFacts, GoalFacts, careplan_resource
from ketaclinic.core.fhir.validate import validate_resource

UTC = dt.UTC


def facts(**kw: object) -> CarePlanFacts:
    base: dict[str, object] = {
        "id": "12",
        "patient_id": "7",
        "status": "active",
        "title": "Care plan: TRD",
        "created": dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "author": "Dr Asha Patel",
        "start": dt.date(2026, 12, 1),
        "goals": [
            GoalFacts(
                key="goal-1",
                description="PHQ-9 remission",
                lifecycle_status="active",
                achievement="in-progress",
                measure_code="phq9",
                measure_display="PHQ-9",
                target_max=4.0,
                due_on=dt.date(2027, 3, 1),
                owner="Dr Asha Patel",
            ),
            GoalFacts(
                key="goal-2",
                description="Return to work",
                lifecycle_status="active",
                target_text="No scale: judged by the owner",
            ),
        ],
        "activities": [
            ActivityFacts(
                kind="dosing-session",
                kind_display="Dosing session",
                description="Dosing session (discharged)",
                status="completed",
                scheduled_at=dt.datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
                outcome_reference="Encounter/5",
            ),
            ActivityFacts(
                kind="surveillance",
                kind_display="Safety surveillance",
                description="Urinalysis for blood",
                status="not-started",
                due_on=dt.date(2027, 5, 30),
                owner="Dr Asha Patel",
            ),
        ],
        "safety_plan": "Warning signs: poor sleep",
    }
    base.update(kw)
    return CarePlanFacts(**base)  # type: ignore[arg-type]


def test_careplan_is_valid_r4b_with_contained_goals() -> None:
    plan = careplan_resource(facts())
    assert validate_resource(plan) == []
    assert [g["id"] for g in plan["contained"]] == ["goal-1", "goal-2"]
    assert plan["goal"] == [{"reference": "#goal-1"}, {"reference": "#goal-2"}]
    g1 = plan["contained"][0]
    assert g1["target"] == [
        {
            "measure": {
                "coding": [
                    {
                        "system": "https://ketaclinic.example/fhir/CodeSystem/care-plan",
                        "code": "phq9",
                        "display": "PHQ-9",
                    }
                ],
                "text": "PHQ-9",
            },
            "detailRange": {"high": {"value": 4.0}},
            "dueDate": "2027-03-01",
        }
    ]
    assert g1["achievementStatus"]["coding"][0]["code"] == "in-progress"
    assert plan["contained"][1]["target"] == [{"detailString": "No scale: judged by the owner"}]
    dosing, urine = plan["activity"]
    assert dosing["outcomeReference"] == [{"reference": "Encounter/5"}]
    assert dosing["detail"]["scheduledPeriod"] == {"start": "2026-12-03T09:00:00+00:00"}
    assert urine["detail"] == {
        "code": {
            "coding": [
                {
                    "system": "https://ketaclinic.example/fhir/CodeSystem/care-plan",
                    "code": "surveillance",
                    "display": "Safety surveillance",
                }
            ],
            "text": "Safety surveillance",
        },
        "status": "not-started",
        "description": "Urinalysis for blood",
        "scheduledPeriod": {"end": "2027-05-30"},
        "performer": [{"display": "Dr Asha Patel"}],
    }
    assert plan["note"] == [{"text": "Safety plan: Warning signs: poor sleep"}]


def test_invalid_statuses_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="status 'soon'"):
        careplan_resource(
            facts(activities=[ActivityFacts(kind="x", kind_display="X", description="d", status="soon")])
        )
    with pytest.raises(ValueError, match="lifecycle_status 'maybe'"):
        careplan_resource(facts(goals=[GoalFacts(key="g", description="d", lifecycle_status="maybe")]))
    with pytest.raises(ValueError, match="needs a time zone"):
        careplan_resource(facts(created=dt.datetime(2026, 12, 1, 9, 0)))


def test_the_validator_catches_a_broken_plan() -> None:
    plan = careplan_resource(facts())
    del plan["subject"]
    plan["activity"][0]["detail"]["scheduledPeriod"] = {"start": "yesterday"}
    assert sorted(i.path for i in validate_resource(plan)) == [
        "CarePlan.activity[0].detail.scheduledPeriod.start",
        "CarePlan.subject",
    ]
