"""The outcomes page's vectorised path gives exactly the engine's figures on a stored synthetic clinic
(SQLite by default; the packed-binary PostgreSQL read with KETACLINIC_TEST_POSTGRES=1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ketaclinic.core.outcomes import analyse_cohort, cohort_rules
from ketaclinic.core.outcomes.cohort import split_cohort
from ketaclinic.core.outcomes.fast import fast_outcomes
from ketaclinic.core.outcomes.trajectories import durability, weekly_means
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes.selectors import OutcomeFilters, clinic_cohort, cohort_columns
from ketaclinic.web.outcomes.synthetic import CourseSpec, generate_clinic, make_course
from ketaclinic.web.outcomes.views import build_report
from ketaclinic.web.patients.models import Patient

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_fast_path_equals_the_engine_on_a_stored_clinic(clinic: Clinic, site: Site, prescriber: Any) -> None:
    clinic.is_synthetic = True
    clinic.save()
    made = generate_clinic(
        clinic=clinic, site=site, actor=prescriber, patients=80, scores_per_patient=16, seed=7, now=NOW
    )
    assert made == {"patients": 80, "courses": 80, "sessions": 480, "scores": 1280}
    # Edge cases beside the generated ones: a second course of a patient (its scores count for both), a
    # course without a baseline in the window, one never dosed, and ties at the same instant.
    p = Patient.objects.filter(clinic=clinic).order_by("pk").first()
    assert p is not None
    fd = NOW - dt.timedelta(days=40)
    make_course(
        clinic=clinic,
        patient=p,
        actor=prescriber,
        spec=CourseSpec(first_dose=fd, scores=[(-1.0, 20), (3.0, 9), (3.0, 8), (30.0, 4)], site=site),
    )
    other = Patient.objects.filter(clinic=clinic).order_by("pk")[1]
    make_course(
        clinic=clinic,
        patient=other,
        actor=prescriber,
        spec=CourseSpec(first_dose=None, scores=[], site=site),
    )
    filters = OutcomeFilters()
    rules = cohort_rules("phq9")
    ids, fds, cols = cohort_columns(clinic=clinic, filters=filters)
    fast = fast_outcomes(ids, fds, cols, rules)
    cohort = clinic_cohort(clinic=clinic, filters=filters)
    splits = split_cohort(cohort, rules)
    engine = analyse_cohort(cohort, rules, splits=splits)
    assert fast.result == engine
    assert fast.weekly_means == weekly_means(cohort, rules, splits=splits)
    assert (fast.induction_responders, fast.durability) == durability(cohort, rules, splits=splits)
    assert engine.n == 82 and engine.not_evaluable["no_first_dose"] == 1
    assert engine.evaluable == 81
    # The page's report is built from the fast path.
    report = build_report(clinic, filters)
    assert report["result"] == engine
    assert report["means"] == fast.weekly_means
