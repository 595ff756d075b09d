"""Weekly means with t bands, the waterfall order, durability of response, and the t quantile."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scipy.stats import t as student_t

from ketaclinic.core.outcomes import analyse_cohort, cohort_rules, parse_cohort
from ketaclinic.core.outcomes.trajectories import (
    DurabilitySettings,
    durability,
    durability_settings,
    t975,
    waterfall,
    week_of,
    weekly_means,
)

FD = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def cohort(*patients: list[tuple[float, int]], instrument: str = "phq9") -> Any:
    return parse_cohort(
        {
            "instrument": instrument,
            "patients": [
                {
                    "id": f"p{i}",
                    "first_dose": FD.isoformat(),
                    "scores": [{"time": (FD + timedelta(days=d)).isoformat(), "total": t} for d, t in p],
                }
                for i, p in enumerate(patients)
            ],
        }
    )


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 45, 100, 1000])
def test_t975_matches_scipy(df: int) -> None:
    assert t975(df) == pytest.approx(float(student_t.ppf(0.975, df)), abs=6e-5)


def test_week_of_is_the_ceiling_of_days_over_seven() -> None:
    assert [week_of(timedelta(days=d)) for d in (0.01, 1, 7, 7.01, 14, 15)] == [1, 1, 1, 2, 2, 3]


def test_weekly_means_latest_score_per_week_and_t_band() -> None:
    c = cohort(
        [(-1, 20), (2, 18), (6, 14), (13, 10)],  # week 1: 14 (the later of two), week 2: 10
        [(-1, 16), (5, 12), (12, 6)],
        [(-1, 12), (7, 10)],  # evaluable, only week 1
        [(-1, 25)],  # not evaluable: left out of every week, baseline included
    )
    means = {m.week: m for m in weekly_means(c, cohort_rules("phq9"))}
    assert sorted(means) == [0, 1, 2]
    w0 = means[0]
    assert (w0.n, w0.mean) == (3, 16.0)
    # sd of (20, 16, 12) = 4; half-width = t(0.975, 2) · 4 / sqrt(3) = 4.3027 · 2.3094 = 9.9367
    assert w0.lo == pytest.approx(16 - 4.3027 * 4 / math.sqrt(3), abs=1e-9)
    assert w0.hi == pytest.approx(25.9367, abs=1e-4)
    assert (means[1].n, means[1].mean) == (3, 12.0)
    assert (means[2].n, means[2].mean, means[2].lo, means[2].hi) == (
        2,
        8.0,
        pytest.approx(8 - 12.7062 * math.sqrt(8) / math.sqrt(2)),
        pytest.approx(8 + 12.7062 * 2),
    )


def test_single_patient_week_has_no_band() -> None:
    m = weekly_means(cohort([(-1, 20), (3, 10)]), cohort_rules("phq9"))
    assert [(x.week, x.n, x.mean, x.lo, x.hi) for x in m] == [
        (0, 1, 20.0, None, None),
        (1, 1, 10.0, None, None),
    ]


def test_waterfall_worst_first_and_zero_baselines_left_out() -> None:
    c = cohort([(-1, 20), (7, 10)], [(-1, 10), (7, 12)], [(-1, 0), (7, 3)], [(-1, 8), (7, 8)])
    res = analyse_cohort(c)
    assert [(p.id, p.pct_change) for p in waterfall(res.patients)] == [
        ("p1", 20.0),
        ("p3", 0.0),
        ("p0", -50.0),
    ]


SETTINGS = DurabilitySettings(induction_days=28, weeks=(4, 8, 12), window_days=14, source="test")


def test_durability_counts_induction_responders_at_each_point() -> None:
    c = cohort(
        # responds on day 10; at day 56 (4 weeks after induction) 9 → still; day 84: 12 → lost; day 112: none in window
        [(-1, 20), (10, 9), (55, 9), (84, 12), (140, 4)],
        # responds on day 20; nearest to day 56 is day 60 (gap 4) over day 50 (gap 6): 10 → still
        [(-1, 20), (20, 8), (50, 15), (60, 10), (112, 10)],
        # responds only on day 29: not an induction responder
        [(-1, 20), (29, 5), (56, 5)],
    )
    n, pts = durability(c, cohort_rules("phq9"), SETTINGS)
    assert n == 2
    assert [(p.weeks_after_induction, p.day, p.still_responding.n, p.still_responding.of) for p in pts] == [
        (4, 56, 2, 2),
        (8, 84, 0, 1),
        (12, 112, 1, 1),
    ]


def test_durability_tie_takes_the_later_score_and_settings_come_from_the_data_file() -> None:
    c = cohort([(-1, 20), (7, 10), (52, 15), (60, 10)])  # day 52 and day 60 both 4 days from day 56
    _, pts = durability(c, cohort_rules("phq9"), SETTINGS)
    assert pts[0].still_responding.n == 1
    cfg = durability_settings()
    assert (cfg.induction_days, cfg.weeks, cfg.window_days) == (28, (4, 8, 12), 14)
