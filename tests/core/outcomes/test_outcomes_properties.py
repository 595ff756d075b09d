"""Hypothesis properties: bounds, monotonicity and agreement between the engine and a direct recount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.outcomes import analyse_cohort, kaplan_meier, parse_cohort, wilson_interval

FD = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@given(st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_rate_and_stays_in_0_1(kn: tuple[int, int]) -> None:
    k, n = kn
    ci = wilson_interval(k, n)
    if n == 0:
        assert ci is None
        return
    assert ci is not None
    lo, hi = ci
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    # Symmetry: the interval for n-k mirrors the one for k.
    mirror = wilson_interval(n - k, n)
    assert mirror is not None
    assert abs(mirror[0] - (1 - hi)) < 1e-12 and abs(mirror[1] - (1 - lo)) < 1e-12


obs = st.lists(st.tuples(st.integers(0, 60), st.booleans()), max_size=40)


@given(obs)
def test_km_survival_is_non_increasing_and_matches_the_uncensored_ecdf(o: list[tuple[int, bool]]) -> None:
    curve = kaplan_meier(o)
    last = Fraction(1)
    for s in curve.steps:
        assert 0 <= s.survival <= last
        last = s.survival
    if o and all(e for _, e in o):
        # Without censoring, S(t) = share of subjects with time > t.
        for s in curve.steps:
            assert s.survival == Fraction(sum(1 for t, _ in o if t > s.time), len(o))
    if curve.median is not None:
        assert curve.survival_at(curve.median) <= Fraction(1, 2)
        assert all(s.survival > Fraction(1, 2) for s in curve.steps if s.time < curve.median)


patient = st.tuples(
    st.integers(0, 27),  # baseline
    st.integers(-20, 0),  # baseline day
    st.lists(st.tuples(st.integers(1, 120), st.integers(0, 27)), max_size=5),  # (day, total) after the dose
)


@settings(max_examples=150)
@given(st.lists(patient, max_size=25))
def test_cohort_counts_agree_with_a_direct_recount(pts: list[tuple[int, int, list[tuple[int, int]]]]) -> None:
    raw = {
        "instrument": "phq9",
        "patients": [
            {
                "id": i,
                "first_dose": FD.isoformat(),
                "scores": [{"time": (FD + timedelta(days=bd)).isoformat(), "total": b}]
                + [{"time": (FD + timedelta(days=d)).isoformat(), "total": t} for d, t in post],
            }
            for i, (b, bd, post) in enumerate(pts)
        ],
    }
    out = analyse_cohort(parse_cohort(raw)).to_dict()
    ev = [(b, post) for b, bd, post in pts if bd >= -14 and post]
    assert out["n"] == len(pts) and out["evaluable"] == len(ev)
    assert out["response"]["n"] == sum(1 for b, post in ev if b > 0 and any(2 * t <= b for _, t in post))
    assert out["remission"]["n"] == sum(1 for _, post in ev if any(t < 5 for _, t in post))
    assert out["response_last"]["n"] <= out["response"]["n"]
    assert out["remission_last"]["n"] <= out["remission"]["n"]
    for key in ("response", "remission", "response_last"):
        if ev:
            lo, hi = out[key]["ci95"]
            assert lo <= out[key]["rate"] <= hi
        else:
            assert out[key] == {"n": 0, "rate": None, "ci95": None}
    if out["median_days_to_response"] is not None:
        assert out["response"]["n"] >= 1  # a median needs at least one response
