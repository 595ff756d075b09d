"""The vectorised cohort engine (core.outcomes.fast) gives exactly the engine's figures on random cohorts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.outcomes import Cohort, CohortPatient, Score, analyse_cohort, cohort_rules
from ketaclinic.core.outcomes.fast import NotExact, columns_from_cohort, fast_outcomes, to_hundredths
from ketaclinic.core.outcomes.trajectories import durability, weekly_means

FD = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Offsets in hours around the first dose: ties (same instant), the baseline window edge (-336 h), week edges.
offsets = st.one_of(
    st.integers(-400, 2500),
    st.sampled_from([-337, -336, -335, 0, 1, 168, 169, 672, 673, 1008, 1344, 1680]),
)


def _patient(i: int, dosed: bool, scores: list[tuple[int, int | Fraction]]) -> CohortPatient:
    return CohortPatient(
        id=f"p{i}",
        first_dose=FD if dosed else None,
        scores=tuple(Score(at=FD + timedelta(hours=h), total=t) for h, t in scores),
    )


def cohorts(totals: st.SearchStrategy[int | Fraction]) -> st.SearchStrategy[list[CohortPatient]]:
    pat = st.tuples(st.booleans() | st.just(True), st.lists(st.tuples(offsets, totals), max_size=12))
    return st.lists(pat, max_size=25).map(lambda ps: [_patient(i, d, s) for i, (d, s) in enumerate(ps)])


def _compare(instrument: str, patients: list[CohortPatient]) -> None:
    cohort = Cohort(instrument_id=instrument, patients=tuple(patients))
    rules = cohort_rules(instrument)
    ids, fds, cols = columns_from_cohort(cohort)
    fast = fast_outcomes(ids, fds, cols, rules)
    assert fast.result == analyse_cohort(cohort, rules)
    assert fast.weekly_means == weekly_means(cohort, rules)
    assert (fast.induction_responders, fast.durability) == durability(cohort, rules)


@settings(max_examples=150, deadline=None)
@given(cohorts(st.integers(0, 27)))
def test_phq9_fast_path_equals_the_engine(patients: list[CohortPatient]) -> None:
    _compare("phq9", patients)


@settings(max_examples=60, deadline=None)
@given(cohorts(st.integers(0, 40)))
def test_ybocs_fast_path_equals_the_engine(patients: list[CohortPatient]) -> None:
    _compare("ybocs", patients)


@settings(max_examples=60, deadline=None)
@given(cohorts(st.integers(0, 1000).map(lambda h: Fraction(h, 100))))
def test_peg_hundredths_fast_path_equals_the_engine(patients: list[CohortPatient]) -> None:
    _compare("peg", patients)


def test_a_known_cohort_gives_exact_figures() -> None:
    patients = [
        _patient(0, True, [(-24, 20), (24, 12), (200, 9), (700, 4)]),  # responds day 8.3, remits at 700 h
        _patient(1, True, [(-24, 20), (-1, 18), (48, 15)]),  # baseline 18 (latest in window), no response
        _patient(2, True, [(-400, 20), (48, 5)]),  # baseline outside the 14-day window
        _patient(3, True, [(-2, 10)]),  # no follow-up
        _patient(4, False, [(5, 10)]),  # not dosed
    ]
    cohort = Cohort(instrument_id="phq9", patients=tuple(patients))
    ids, fds, cols = columns_from_cohort(cohort)
    fast = fast_outcomes(ids, fds, cols, cohort_rules("phq9"))
    r = fast.result
    assert (r.n, r.evaluable) == (5, 2)
    assert dict(r.not_evaluable) == {"no_first_dose": 1, "no_baseline": 1, "no_follow_up": 1}
    assert (r.response.n, r.remission.n if r.remission else None) == (1, 1)
    assert r.patients[0].time_to_response == timedelta(hours=200)
    assert r.patients[1].baseline == Score(at=FD - timedelta(hours=1), total=18)
    assert [(m.week, m.n, m.mean) for m in fast.weekly_means] == [
        (0, 2, 19.0),
        (1, 2, 13.5),
        (2, 1, 9.0),
        (5, 1, 4.0),
    ]


def test_a_total_not_in_hundredths_is_refused() -> None:
    with pytest.raises(NotExact):
        to_hundredths(Fraction(1, 3))
    assert to_hundredths(1.67) == 167
    assert to_hundredths(12) == 1200
