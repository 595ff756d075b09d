"""The cohort engine: baseline window, evaluable, response/remission any time and at the latest score, KM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.core.outcomes import (
    CohortError,
    analyse_cohort,
    cohort_instrument_ids,
    cohort_rules,
    parse_cohort,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "outcomes-cohort.json"
FD = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(days: float) -> str:
    return (FD + timedelta(days=days)).isoformat()


def cohort(instrument: str, *patients: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "instrument": instrument,
        "patients": [
            {"id": i, "first_dose": FD.isoformat(), "scores": [{"time": at(d), "total": t} for d, t in p]}
            for i, p in enumerate(patients)
        ],
    }


def run(raw: dict[str, Any]) -> dict[str, Any]:
    return analyse_cohort(parse_cohort(raw)).to_dict()


def test_example_cohort_hand_computed() -> None:
    out = run(json.loads(EXAMPLE.read_text()))
    assert (out["n"], out["evaluable"]) == (7, 4)
    assert out["not_evaluable"] == {"no_first_dose": 1, "no_baseline": 1, "no_follow_up": 1}
    # A, B, G respond at some score; A and G remit (< 5); only A responds and remits at the latest score.
    assert out["response"]["n"] == 3 and out["response"]["rate"] == 0.75
    assert out["response"]["ci95"] == [pytest.approx(0.30064, abs=1e-5), pytest.approx(0.95441, abs=1e-5)]
    assert out["remission"]["n"] == 2 and out["remission"]["rate"] == 0.5
    assert out["remission"]["ci95"] == [pytest.approx(0.15004, abs=1e-5), pytest.approx(0.84996, abs=1e-5)]
    assert out["response_last"] == {
        "n": 1,
        "rate": 0.25,
        "ci95": [pytest.approx(0.04559, abs=1e-5), pytest.approx(0.69936, abs=1e-5)],
    }
    assert out["remission_last"]["n"] == 1
    # KM: G responds at 1 d (S = 3/4), A at 3.5 d (S = 3/4 * 2/3 = 1/2): median 3.5; B at 7, D censored at 10.
    assert out["median_days_to_response"] == 3.5
    by_id = {p["id"]: p for p in out["patients"]}
    assert by_id["A"]["days_to_response"] == 3.5
    assert by_id["B"]["baseline"] == 18  # the score 20 days before the dose is outside the 14-day window
    assert (by_id["B"]["response"], by_id["B"]["response_last"], by_id["B"]["days_to_response"]) == (
        True,
        False,
        7.0,
    )
    assert by_id["C"]["not_evaluable_reason"] == "no_baseline"  # 14 days and 1 second before the dose
    assert by_id["D"]["baseline"] == 16 and by_id["D"]["follow_up_days"] == 10.0
    assert by_id["D"]["pct_change"] == -25.0
    assert by_id["G"]["days_to_response"] == 1.0 and by_id["G"]["remission_last"] is False


def test_baseline_window_includes_exactly_14_days_and_the_dose_instant() -> None:
    out = run(cohort("phq9", [(-14, 20), (1, 10)], [(0, 20), (1, 10)]))
    assert out["evaluable"] == 2 and out["response"]["n"] == 2
    out = run(cohort("phq9", [(-14.00001, 20), (1, 10)]))
    assert out["evaluable"] == 0
    assert out["not_evaluable"]["no_baseline"] == 1


def test_latest_pre_dose_score_in_window_is_the_baseline() -> None:
    # 20 at -10 d, then 12 at -1 d: baseline 12, so 7 is a 41.7 % fall (no response), not 65 %.
    out = run(cohort("phq9", [(-10, 20), (-1, 12), (5, 7)]))
    assert out["patients"][0]["baseline"] == 12
    assert out["response"]["n"] == 0


def test_response_threshold_is_inclusive_and_exact() -> None:
    out = run(cohort("phq9", [(-1, 27), (2, 13)], [(-1, 27), (2, 14)]))
    assert [p["response"] for p in out["patients"]] == [True, False]  # 13 ≤ 13.5, 14 > 13.5


def test_ybocs_response_uses_the_data_files_threshold() -> None:
    rules = cohort_rules("ybocs")
    # 35 % once the data file says so (Mataix-Cols 2016); the cohort follows whatever the file states.
    reduction = rules.response_pct
    base = 20
    just = base - (base * reduction + 99) // 100  # the largest total that still meets the threshold
    out = run(cohort("ybocs", [(-1, base), (3, just)], [(-1, base), (3, just + 1)]))
    assert [p["response"] for p in out["patients"]] == [True, False]


@pytest.mark.parametrize(
    ("iid", "remits", "does_not"),
    [("phq9", 4, 5), ("gad7", 4, 5), ("madrs", 10, 11), ("qids-sr16", 5, 6), ("ybocs", 12, 13)],
)
def test_remission_thresholds_per_instrument(iid: str, remits: int, does_not: int) -> None:
    out = run(cohort(iid, [(-1, 21), (7, remits)], [(-1, 21), (7, does_not)]))
    assert [p["remission"] for p in out["patients"]] == [True, False]
    assert out["remission"]["n"] == 1 and out["remission_last"]["n"] == 1


@pytest.mark.parametrize("iid", ["pcl5", "pain-nrs", "ymrs", "cadss", "bpic-ss"])
def test_other_instruments_have_null_remission_and_50_percent_response(iid: str) -> None:
    out = run(cohort(iid, [(-1, 10), (7, 5)], [(-1, 10), (7, 6)]))
    assert out["remission"] is None and out["remission_last"] is None
    assert [p["response"] for p in out["patients"]] == [True, False]
    assert out["definitions"]["response_reduction_pct"] == 50


def test_any_time_versus_latest_score() -> None:
    # Responds and remits at day 7, relapses by day 28.
    out = run(cohort("phq9", [(-1, 20), (7, 4), (28, 15)]))
    assert (out["response"]["n"], out["remission"]["n"]) == (1, 1)
    assert (out["response_last"]["n"], out["remission_last"]["n"]) == (0, 0)


def test_no_evaluable_patient_gives_null_rates_and_intervals() -> None:
    out = run(cohort("phq9", [(-1, 20)], [(3, 10)]))
    assert (out["n"], out["evaluable"]) == (2, 0)
    for key in ("response", "remission", "response_last", "remission_last"):
        assert out[key] == {"n": 0, "rate": None, "ci95": None}
    assert out["median_days_to_response"] is None
    empty = run({"instrument": "madrs", "patients": []})
    assert (empty["n"], empty["evaluable"], empty["response"]["rate"]) == (0, 0, None)


def test_median_in_fractional_days_with_non_responders_censored() -> None:
    # Responders at 0.5 d and 2.25 d; two non-responders followed to 1 d and 30 d.
    # KM: t=0.5: 3/4; censor at 1 (3→2 at risk); t=2.25: 3/4 * 1/2 = 3/8 <= 1/2 → median 2.25.
    out = run(
        cohort(
            "madrs",
            [(-1, 30), (0.5, 15)],
            [(-1, 30), (1, 29)],
            [(-1, 30), (1, 20), (2.25, 14)],
            [(-1, 30), (30, 25)],
        )
    )
    assert out["median_days_to_response"] == 2.25
    assert [p["days_to_response"] for p in out["patients"]] == [0.5, None, 2.25, None]


def test_median_null_when_survival_never_reaches_one_half() -> None:
    out = run(cohort("phq9", [(-1, 20), (1, 10)], [(-1, 20), (9, 19)], [(-1, 20), (9, 19)]))
    assert out["response"]["n"] == 1
    assert out["median_days_to_response"] is None


def test_zero_baseline_never_responds_but_is_evaluable() -> None:
    out = run(cohort("phq9", [(-1, 0), (3, 0)]))
    assert out["evaluable"] == 1
    assert out["patients"][0]["response"] is False and out["patients"][0]["pct_change"] is None
    assert out["remission"]["n"] == 1


def test_seconds_resolution_and_offsets() -> None:
    raw = {
        "instrument": "phq9",
        "patients": [
            {
                "id": 7,
                "first_dose": "2026-01-05T10:00:00+01:00",
                "scores": [
                    {"time": "2026-01-05T09:00:00Z", "total": 20},
                    {"time": "2026-01-05T21:00:00Z", "total": 8},
                ],
            }
        ],
    }
    out = run(raw)
    assert out["patients"][0]["id"] == 7
    assert out["median_days_to_response"] == 0.5


def test_decimal_totals_are_exact() -> None:
    # MADRS raters may record half points: 20 → 10.0 responds, 20 → 10.5 does not.
    out = run(cohort("madrs", [(-1, 20), (2, 10.0)], [(-1, 20.0), (2, 10.5)]))
    assert [p["response"] for p in out["patients"]] == [True, False]
    assert out["patients"][1]["latest"] == 10.5


def test_rules_come_from_the_data_file() -> None:
    r = cohort_rules("phq9")
    assert (r.response_pct, r.remission and (r.remission.op, r.remission.value)) == (50, ("lt", 5))
    assert r.baseline_window == timedelta(days=14)
    assert r.remits(Fraction(9, 2)) is True
    assert "cssrs-screener" not in cohort_instrument_ids()
    assert "phq9" in cohort_instrument_ids()


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ([], "COHORT", "JSON object"),
        ({"patients": []}, "instrument", "required"),
        ({"instrument": "cssrs-screener", "patients": []}, "instrument", "has no total"),
        ({"instrument": "nope", "patients": []}, "instrument", "unknown"),
        ({"instrument": "phq9"}, "patients", "list"),
        ({"instrument": "phq9", "patients": [3]}, "patients[0]", "object"),
        ({"instrument": "phq9", "patients": [{"first_dose": None}]}, "patients[0].id", "required"),
        ({"instrument": "phq9", "patients": [{"id": True}]}, "patients[0].id", "required"),
        ({"instrument": "phq9", "patients": [{"id": "a"}, {"id": "a"}]}, "patients[1].id", "duplicate"),
        (
            {"instrument": "phq9", "patients": [{"id": "a", "first_dose": "yesterday"}]},
            "patients[0].first_dose",
            "ISO-8601",
        ),
        (
            {"instrument": "phq9", "patients": [{"id": "a", "first_dose": 5}]},
            "patients[0].first_dose",
            "ISO-8601",
        ),
        ({"instrument": "phq9", "patients": [{"id": "a", "scores": {}}]}, "patients[0].scores", "list"),
        (
            {"instrument": "phq9", "patients": [{"id": "a", "scores": [{"total": 3}]}]},
            "patients[0].scores[0].time",
            "required",
        ),
        (
            {"instrument": "phq9", "patients": [{"id": "a", "scores": [{"time": "2026-01-01"}]}]},
            "patients[0].scores[0].total",
            "required",
        ),
        (
            {
                "instrument": "phq9",
                "patients": [{"id": "a", "scores": [{"time": "2026-01-01", "total": 28}]}],
            },
            "patients[0].scores[0].total",
            "range 0-27",
        ),
        (
            {
                "instrument": "phq9",
                "patients": [{"id": "a", "scores": [{"time": "2026-01-01", "total": -1}]}],
            },
            "patients[0].scores[0].total",
            "range",
        ),
        (
            {
                "instrument": "phq9",
                "patients": [{"id": "a", "scores": [{"time": "2026-01-01", "total": "4"}]}],
            },
            "patients[0].scores[0].total",
            "number",
        ),
        (
            {
                "instrument": "phq9",
                "patients": [{"id": "a", "scores": [{"time": "2026-01-01", "total": float("nan")}]}],
            },
            "patients[0].scores[0].total",
            "number",
        ),
    ],
)
def test_bad_input_names_the_field(raw: Any, field: str, reason: str) -> None:
    with pytest.raises(CohortError) as exc:
        parse_cohort(raw)
    assert exc.value.field == field
    assert reason in exc.value.reason


def test_ybocs_response_is_35_percent_per_the_contract() -> None:
    # 20 → 13 is a 35 % fall (responds); 20 → 14 is 30 % (does not).
    out = run(cohort("ybocs", [(-1, 20), (3, 13)], [(-1, 20), (3, 14)]))
    assert out["definitions"]["response_reduction_pct"] == 35
    assert [p["response"] for p in out["patients"]] == [True, False]
