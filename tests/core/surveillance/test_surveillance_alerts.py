"""Alerts: each rule at its threshold, the latest result of each kind, and what never alerts."""

from __future__ import annotations

from typing import Any

import pytest
from tests.core.surveillance.surveillance_helpers import assess, codes, day, dose, history, obs, run

from ketaclinic.core.surveillance import apply_overrides, parse_history, surveil, urine_blood_positive


def alerts(h: dict[str, Any], on: int = 30) -> list[str]:
    return [f.code for f in run(h, on).findings if f.level == "alert"]


# ------------------------------------------------------------------------------------------ bladder


@pytest.mark.parametrize(
    ("total", "expected"), [(18, []), (19, ["bladder_symptoms"]), (38, ["bladder_symptoms"])]
)
def test_bladder_symptoms_at_bpic_ss_19(total: int, expected: list[str]) -> None:
    assert alerts(history([dose(0)], [assess("bpic-ss", 1, total=total)])) == expected


def test_bladder_alert_reads_only_the_latest_bpic_ss() -> None:
    assert alerts(history([dose(0)], [assess("bpic-ss", 1, total=25), assess("bpic-ss", 2, total=10)])) == []
    r = run(history([dose(0)], [assess("bpic-ss", 1, total=10), assess("bpic-ss", 2, total=25)]), 30)
    f = r.alerts[0]
    assert (f.code, f.evidence) == ("bladder_symptoms", ("assessments[1]",))
    assert f.message.startswith(f"BPIC-SS total 25 on {day(2).isoformat()} is at or above 19")
    assert "Humphrey" in f.source


def test_bladder_alert_from_item_answers() -> None:
    assert alerts(history([dose(0)], [assess("bpic-ss", 1, answers=[3, 3, 3, 3, 3, 2, 2, 0])])) == [
        "bladder_symptoms"
    ]


# ------------------------------------------------------------------------------------------ haematuria


@pytest.mark.parametrize(
    ("value", "positive"),
    [
        ("negative", False),
        ("Negative", False),
        (" NEGATIVE ", False),
        (0, False),
        (0.0, False),
        ("0", False),
        ("trace", True),
        ("1+", True),
        ("positive", True),
        ("neg", True),  # only "negative" or 0 reads negative
        (1, True),
        (0.5, True),
    ],
)
def test_urine_blood_positive_unless_negative_or_zero(value: Any, positive: bool) -> None:
    assert urine_blood_positive(value if isinstance(value, str) else float(value)) is positive
    expected = ["haematuria"] if positive else []
    assert alerts(history([dose(0)], observations=[obs("5794-3", 1, value)])) == expected


def test_haematuria_reads_the_latest_dipstick_only() -> None:
    h = history([dose(0)], observations=[obs("5794-3", 1, "2+"), obs("5794-3", 3, "negative")])
    assert alerts(h) == []
    h2 = history([dose(0)], observations=[obs("5794-3", 3, "negative"), obs("5794-3", 1, "2+")])
    assert alerts(h2) == []  # order in the file does not matter, time does


# ------------------------------------------------------------------------------------------ liver


@pytest.mark.parametrize(
    ("code", "value", "high", "expected"),
    [
        ("1742-6", 120, 40, []),  # exactly 3 x: not above
        ("1742-6", 121, 40, ["liver_enzymes_raised"]),
        ("1920-8", 100.5, 33.5, []),
        ("1920-8", 100.6, 33.5, ["liver_enzymes_raised"]),
        ("1742-6", 500, None, []),  # no reference_high: no alert
        ("2324-9", 500, 40, []),  # GGT is not read
    ],
)
def test_liver_alert_above_three_times_the_reference_high(
    code: str, value: float, high: float | None, expected: list[str]
) -> None:
    extra = {} if high is None else {"reference_high": high}
    assert alerts(history([dose(0)], observations=[obs(code, 1, value, unit="U/L", **extra)])) == expected


def test_liver_alert_reads_the_latest_alt_and_the_latest_ast_separately() -> None:
    h = history(
        [dose(0)],
        observations=[
            obs("1742-6", 1, 200, reference_high=40),
            obs("1920-8", 2, 30, reference_high=35),
            obs("1742-6", 3, 45, reference_high=40),
        ],
    )
    assert alerts(h) == []
    h2 = history(
        [dose(0)],
        observations=[obs("1742-6", 3, 45, reference_high=40), obs("1920-8", 2, 150, reference_high=35)],
    )
    r = run(h2, 30)
    assert [(f.code, f.evidence) for f in r.alerts] == [("liver_enzymes_raised", ("observations[1]",))]
    assert "AST 150 on" in r.alerts[0].message


# ------------------------------------------------------------------------------------------ dependence


@pytest.mark.parametrize(
    ("total", "expected"), [(2, []), (3, ["dependence_signal"]), (15, ["dependence_signal"])]
)
def test_dependence_signal_at_sds_3_by_default(total: int, expected: list[str]) -> None:
    assert alerts(history([dose(0)], [assess("sds", 1, total=total)])) == expected


def test_dependence_threshold_is_a_clinic_setting() -> None:
    h = parse_history(history([dose(0)], [assess("sds", 1, total=4)]))
    settings = apply_overrides({"alerts": {"dependence_signal": {"total_at_least": 5}}})
    assert [f.code for f in surveil(h, day(30), settings).alerts] == []
    settings4 = apply_overrides({"alerts": {"dependence_signal": {"total_at_least": 4}}})
    found = surveil(h, day(30), settings4).alerts
    assert [f.code for f in found] == ["dependence_signal"]
    assert found[0].source.startswith("Clinic protocol override of the shipped default: total_at_least.")


# ------------------------------------------------------------------------------------------ escalation


def _course(mgs: list[float]) -> dict[str, Any]:
    return history([dose(3 * k, mg) for k, mg in enumerate(mgs)])


@pytest.mark.parametrize(
    ("mgs", "expected"),
    [
        ([35, 35, 35, 35, 43.75, 43.75, 43.75, 43.75], ["escalation_tolerance"]),  # exactly 1.25 x
        ([35, 35, 35, 35, 43.7, 43.75, 43.75, 43.75], []),  # just under
        ([35, 35, 35, 35, 43.75, 43.75, 43.75], []),  # 7 sessions: too few
        ([35, 35, 35, 35, 35, 35, 35, 35, 60, 60, 60, 60], ["escalation_tolerance"]),
        ([60, 60, 60, 60, 35, 35, 35, 35], []),  # falling
    ],
)
def test_escalation_tolerance_last_4_vs_first_4_with_8_sessions(
    mgs: list[float], expected: list[str]
) -> None:
    assert alerts(_course(mgs), on=60) == expected


def test_escalation_sums_doses_of_one_session() -> None:
    # session 5-8 each have two doses of 25 mg (50 mg) against 40 mg: 1.25 x
    doses = [dose(k, 40) for k in range(4)] + [
        d for k in range(4, 8) for d in (dose(k, 25), dose(k, 25, hour=12))
    ]
    r = run(history(doses), 20)
    assert [f.code for f in r.alerts] == ["escalation_tolerance"]
    assert r.alerts[0].evidence == tuple(f"doses[{i}]" for i in (0, 1, 2, 3, 4, 6, 8, 10))
    assert "0.71 mg/kg over the last 4 sessions is 1.25 x the first 4 (0.57 mg/kg" in r.alerts[0].message


# ------------------------------------------------------------------------------------------ general


def test_alerts_stand_after_treatment_ends_and_come_first() -> None:
    h = history([dose(0)], [assess("bpic-ss", 1, total=30)], [obs("5794-3", 1, "3+")])
    r = run(h, 200)  # 200 days after the last dose: not on treatment, no schedule
    assert r.on_treatment is False
    assert codes(r) == [("bladder_symptoms", "alert"), ("haematuria", "alert")]


def test_results_after_on_never_alert() -> None:
    h = history([dose(0)], [assess("bpic-ss", 40, total=30)], [obs("5794-3", 40, "3+")])
    assert alerts(h, on=30) == []


def test_finding_objects_have_exactly_the_contract_keys() -> None:
    r = run(history([dose(0)], [assess("sds", 0, total=9)]), 1)
    for f in r.to_dict()["findings"]:
        assert set(f) == {"code", "level", "message", "evidence", "source"}
        assert f["message"] and f["source"] and isinstance(f["evidence"], list)
