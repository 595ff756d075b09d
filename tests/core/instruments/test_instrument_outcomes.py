"""Response, remission and time to first response (data/outcomes.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ketaclinic.core.instruments import DefinitionError
from ketaclinic.core.instruments.outcomes import (
    ScorePoint,
    assess_outcome,
    default_outcome_config,
    parse_outcome_config,
)

DOSE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pt(hours: float, total: float) -> ScorePoint:
    return ScorePoint(at=DOSE + timedelta(hours=hours), total=total)


def test_defaults_match_issue() -> None:
    cfg = default_outcome_config()
    got = {
        iid: (
            r.response.reduction_pct if r.response else None,
            (r.remission.op, r.remission.value) if r.remission else None,
        )
        for iid, r in cfg.rules.items()
    }
    assert got == {
        "phq9": (50, ("lt", 5)),
        "madrs": (50, ("le", 10)),
        "qids-sr16": (50, ("le", 5)),
        "gad7": (50, ("lt", 5)),
        "ybocs": (35, ("le", 12)),
        "pcl5": (50, ("lt", 33)),
        "pain-nrs": (30, None),
        "peg": (30, None),
    }


def test_peg_mean_totals_respond_in_exact_decimals() -> None:
    # 10 -> 7 is exactly the IMMPACT 30 % threshold: response.
    o = assess_outcome("peg", [pt(-1, 10), pt(24, 7)], DOSE)
    assert (o.change, o.pct_change, o.response, o.remission) == (-3, Decimal("-30.0"), True, None)
    # 6.67 -> 4.67 is a 29.99 % reduction: shown as -30.0 % but not a response; change is -2, not -1.9999...
    o = assess_outcome("peg", [pt(-1, 6.67), pt(24, 4.67)], DOSE)
    assert (o.change, o.pct_change, o.response) == (-2, Decimal("-30.0"), False)
    o = assess_outcome("peg", [pt(-1, 6.67), pt(24, 4.33)], DOSE)
    assert (o.change, o.pct_change, o.response) == (-2.34, Decimal("-35.1"), True)


def test_baseline_is_last_score_before_first_dose_and_response_time() -> None:
    series = [pt(-240, 22), pt(-1, 20), pt(24, 14), pt(72, 10), pt(168, 4)]
    o = assess_outcome("phq9", series, DOSE)
    assert o.baseline == pt(-1, 20)
    assert o.latest == pt(168, 4)
    assert (o.change, o.pct_change, o.response, o.remission) == (-16, Decimal("-80.0"), True, True)
    assert o.first_response == pt(72, 10)  # exactly 50 % counts
    assert o.time_to_first_response == timedelta(hours=72)
    assert (o.hours_to_first_response, o.days_to_first_response) == (Decimal("72.0"), Decimal("3.0"))


def test_score_at_the_dose_instant_counts_as_baseline() -> None:
    o = assess_outcome("phq9", [pt(0, 18), pt(24, 10)], DOSE)
    assert o.baseline == pt(0, 18)
    assert o.response is False  # 10 > 9 (50 % of 18)


def test_phq9_remission_boundary() -> None:
    assert assess_outcome("phq9", [pt(-1, 20), pt(24, 5)], DOSE).remission is False
    assert assess_outcome("phq9", [pt(-1, 20), pt(24, 4)], DOSE).remission is True


@pytest.mark.parametrize(
    ("iid", "at", "below"),
    [("madrs", 10, 11), ("qids-sr16", 5, 6), ("gad7", 4, 5), ("ybocs", 12, 13), ("pcl5", 32, 33)],
)
def test_remission_boundaries(iid: str, at: int, below: int) -> None:
    assert assess_outcome(iid, [pt(-1, 40), pt(24, at)], DOSE).remission is True
    assert assess_outcome(iid, [pt(-1, 40), pt(24, below)], DOSE).remission is False


def test_pain_response_is_30_percent() -> None:
    assert assess_outcome("pain-nrs", [pt(-1, 10), pt(2, 7)], DOSE).response is True
    assert assess_outcome("pain-nrs", [pt(-1, 10), pt(2, 8)], DOSE).response is False
    assert assess_outcome("pain-nrs", [pt(-1, 10), pt(2, 7)], DOSE).remission is None


def test_response_uses_exact_arithmetic_at_49_9_percent() -> None:
    # 27 -> 14 is a 48.1 % reduction (not a response); 27 -> 13 is 51.9 %.
    assert assess_outcome("phq9", [pt(-1, 27), pt(24, 14)], DOSE).response is False
    assert assess_outcome("phq9", [pt(-1, 27), pt(24, 13)], DOSE).response is True


def test_no_baseline_no_response() -> None:
    o = assess_outcome("phq9", [pt(24, 3)], DOSE)
    assert (o.baseline, o.response, o.remission) == (None, None, True)
    assert "No score before the first dose: no baseline." in o.explanation


def test_no_dose_yet() -> None:
    o = assess_outcome("phq9", [pt(-5, 12)], None)
    assert (o.baseline, o.latest, o.response, o.remission) == (None, None, None, None)


def test_zero_baseline_response_not_defined() -> None:
    o = assess_outcome("phq9", [pt(-1, 0), pt(24, 0)], DOSE)
    assert (o.response, o.pct_change, o.remission) == (None, None, True)


def test_instrument_without_rule() -> None:
    o = assess_outcome("cadss", [pt(-1, 10), pt(1, 2)], DOSE)
    assert (o.response, o.remission) == (None, None)


def test_naive_datetimes_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess_outcome("phq9", [ScorePoint(datetime(2026, 1, 1), 3)], DOSE)


def test_ybocs_response_is_a_35_percent_reduction_by_default_and_configurable() -> None:
    # Mataix-Cols 2016: response >= 35 %. 20 -> 13 is 35 % (a response), 20 -> 14 is 30 % (not).
    assert assess_outcome("ybocs", [pt(-1, 20), pt(24, 13)], DOSE).response is True
    assert assess_outcome("ybocs", [pt(-1, 20), pt(24, 14)], DOSE).response is False
    cfg = parse_outcome_config(
        {"version": "x", "instruments": {"ybocs": {"response": {"reduction_pct": 50, "source": "s"}}}}
    )
    assert assess_outcome("ybocs", [pt(-1, 20), pt(24, 13)], DOSE, config=cfg).response is False
    assert assess_outcome("ybocs", [pt(-1, 20), pt(24, 10)], DOSE, config=cfg).response is True


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"instruments": {}}, "version"),
        ({"version": "1", "instruments": {"hamd": {}}}, "unknown instrument"),
        (
            {"version": "1", "instruments": {"phq9": {"response": {"reduction_pct": 0, "source": "s"}}}},
            "1-100",
        ),
        ({"version": "1", "instruments": {"phq9": {"response": {"reduction_pct": 50}}}}, "source"),
        (
            {"version": "1", "instruments": {"phq9": {"remission": {"op": "gt", "value": 5, "source": "s"}}}},
            "lt or le",
        ),
    ],
)
def test_malformed_outcome_config(doc: dict[str, object], fragment: str) -> None:
    with pytest.raises(DefinitionError, match=fragment):
        parse_outcome_config(doc)
