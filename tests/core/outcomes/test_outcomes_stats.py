"""Wilson intervals and Kaplan-Meier against published reference values."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ketaclinic.core.outcomes import kaplan_meier, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # Newcombe 1998, Two-sided confidence intervals for the single proportion, Table II, method 3 (score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # by hand: centre (p + z²/2n)/(1 + z²/n), half z·sqrt(p(1-p)/n + z²/4n²)/(1 + z²/n), z = 1.959964
        (3, 4, 0.3006, 0.9544),
        (2, 4, 0.1500, 0.8500),
        (1, 4, 0.0456, 0.6994),
    ],
)
def test_wilson_matches_reference_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got is not None
    assert got == (pytest.approx(lo, abs=5e-5), pytest.approx(hi, abs=5e-5))


def test_wilson_bounds_are_exact_at_the_edges_and_none_without_trials() -> None:
    assert wilson_interval(0, 5) == (0.0, pytest.approx(0.43448, abs=5e-5))
    assert wilson_interval(5, 5) == (pytest.approx(0.56552, abs=5e-5), 1.0)
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_refuses_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(k, n)


# Freireich et al. 1963, 6-MP arm (weeks of remission; False = censored), as tabulated by Kaplan-Meier in
# every survival-analysis textbook: S = 0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448; median 23 weeks.
SIX_MP = [(6, True)] * 3 + [
    (6, False),
    (7, True),
    (9, False),
    (10, True),
    (10, False),
    (11, False),
    (13, True),
    (16, True),
    (17, False),
    (19, False),
    (20, False),
    (22, True),
    (23, True),
    (25, False),
    (32, False),
    (32, False),
    (34, False),
    (35, False),
]


def test_kaplan_meier_six_mp_reference() -> None:
    curve = kaplan_meier(SIX_MP)
    assert curve.n == 21
    assert [(s.time, s.at_risk, s.events, s.censored) for s in curve.steps] == [
        (6, 21, 3, 1),
        (7, 17, 1, 0),
        (10, 15, 1, 1),
        (13, 12, 1, 0),
        (16, 11, 1, 0),
        (22, 7, 1, 0),
        (23, 6, 1, 0),
    ]
    assert [round(float(s.survival), 3) for s in curve.steps] == [
        0.857,
        0.807,
        0.753,
        0.690,
        0.627,
        0.538,
        0.448,
    ]
    assert curve.steps[0].survival == Fraction(6, 7)
    assert curve.median == 23
    assert curve.survival_at(5) == 1
    assert curve.survival_at(21.9) == curve.steps[4].survival


def test_median_is_the_first_time_survival_reaches_exactly_one_half() -> None:
    # Two subjects, one event at 2: S = 1/2 exactly, so the median is 2 (no interpolation towards 5).
    assert kaplan_meier([(2.0, True), (5.0, False)]).median == 2.0
    assert kaplan_meier([(2.0, True), (5.0, True)]).median == 2.0


def test_median_is_none_when_survival_stays_above_one_half() -> None:
    curve = kaplan_meier([(1, True), (2, False), (3, False)])
    assert curve.steps[-1].survival == Fraction(2, 3)
    assert curve.median is None
    assert kaplan_meier([]).median is None


def test_censoring_at_an_event_time_keeps_the_subject_at_risk() -> None:
    # At t=1 one event and one censoring among 3 at risk: S = 2/3, then the last subject's event: 0.
    curve = kaplan_meier([(1, True), (1, False), (4, True)])
    assert [(s.at_risk, s.survival) for s in curve.steps] == [(3, Fraction(2, 3)), (1, Fraction(0))]
    assert curve.median == 4
