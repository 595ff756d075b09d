"""Vital-sign alert thresholds, sedation alerts, observation schedules and discharge criteria."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketaclinic.core.protocols import get_protocol
from ketaclinic.core.protocols.monitoring import (
    DischargeInput,
    Vitals,
    evaluate_discharge,
    evaluate_sedation,
    evaluate_vitals,
    observation_schedule,
)

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def v(
    minutes: float,
    sbp: float | None = 120,
    dbp: float | None = 80,
    hr: float | None = 70,
    spo2: float | None = 98,
    rr: float | None = 14,
) -> Vitals:
    return Vitals(T0 + timedelta(minutes=minutes), sbp, dbp, hr, spo2, rr)


def alert_codes(reading: Vitals, **kw: object) -> list[tuple[str, str, bool]]:
    return [(a.code, a.level, a.pause_infusion) for a in evaluate_vitals(reading, **kw)]  # type: ignore[arg-type]


def test_normal_vitals_raise_nothing() -> None:
    assert alert_codes(v(0), phase="pre_dose") == []
    assert alert_codes(v(10), phase="during", baseline=v(0)) == []


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (v(10, sbp=181), [("sbp_high", "critical", True)]),
        (v(10, sbp=180), [("sbp_high_warn", "warn", False)]),
        (v(10, sbp=160), []),
        (v(10, dbp=101), [("dbp_high", "critical", True)]),
        (v(10, dbp=100), []),
        (v(10, hr=111), [("hr_high", "critical", True)]),
        (v(10, hr=110), []),
        (v(10, hr=49), [("hr_low", "warn", False)]),
        (v(10, spo2=91), [("spo2_low", "critical", True)]),
        (v(10, spo2=93), [("spo2_borderline", "warn", False)]),
        (v(10, spo2=94), []),
        (v(10, rr=9), [("rr_low_warn", "warn", False)]),
        (v(10, rr=7), [("rr_low", "critical", True)]),
        (v(10, rr=8), [("rr_low_warn", "warn", False)]),
        (v(10, rr=10), []),
        (v(10, rr=29), [("rr_high", "warn", False)]),
    ],
)
def test_intra_dose_thresholds(reading: Vitals, expected: list[tuple[str, str, bool]]) -> None:
    assert alert_codes(reading, phase="during") == expected


def test_pre_dose_bp_above_140_90_warns() -> None:
    assert alert_codes(v(0, sbp=141), phase="pre_dose") == [("bp_pre_dose_high", "warn", False)]
    assert alert_codes(v(0, dbp=91), phase="pre_dose") == [("bp_pre_dose_high", "warn", False)]
    assert alert_codes(v(0, sbp=140, dbp=90), phase="pre_dose") == []


def test_rise_from_baseline_alerts() -> None:
    base = v(0, sbp=110, dbp=70)
    assert alert_codes(v(40, sbp=150, dbp=95), phase="during", baseline=base) == [
        ("sbp_rise", "warn", False),
        ("dbp_rise", "warn", False),
    ]
    assert alert_codes(v(40, sbp=149, dbp=94), phase="during", baseline=base) == []


def test_sedation_alerts() -> None:
    assert evaluate_sedation(5) is None and evaluate_sedation(4) is None
    a3 = evaluate_sedation(3)
    assert a3 is not None and (a3.code, a3.level, a3.pause_infusion) == ("moaas_sedated", "warn", False)
    a1 = evaluate_sedation(1)
    assert a1 is not None and (a1.code, a1.level, a1.pause_infusion) == (
        "moaas_unresponsive",
        "critical",
        True,
    )
    with pytest.raises(ValueError):
        evaluate_sedation(6)


def test_iv_schedule_every_10_min_during_then_15_after() -> None:
    p = get_protocol("iv-racemic-depression")
    sched = observation_schedule(
        p, dose_start=T0, dose_end=T0 + timedelta(minutes=40), until=T0 + timedelta(minutes=70)
    )
    vit = [int((o.due_at - T0).total_seconds() // 60) for o in sched if o.what == "vitals"]
    assert vit == [0, 10, 20, 30, 40, 55, 70]
    assert [int((o.due_at - T0).total_seconds() // 60) for o in sched if o.what == "moaas"] == [20, 40, 60]


def test_esketamine_schedule_has_bp_at_40_min() -> None:
    p = get_protocol("esketamine-trd")
    sched = observation_schedule(
        p, dose_start=T0, dose_end=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=120)
    )
    assert [int((o.due_at - T0).total_seconds() // 60) for o in sched if o.what == "bp"] == [0, 40]


def _esk_ready(now_min: float, **over: object) -> DischargeInput:
    base = {
        "now": T0 + timedelta(minutes=now_min),
        "baseline": v(-10),
        "vitals": [v(-10), v(40, sbp=135), v(now_min - 5)],
        "latest_moaas": 5,
        "unresolved_side_effects": [],
        "escort_present": True,
        "first_dose_at": T0,
        "dose_end_at": T0 + timedelta(minutes=10),
    }
    base.update(over)
    return DischargeInput(**base)  # type: ignore[arg-type]


def test_esketamine_discharge_at_120_min_with_all_criteria_is_ready() -> None:
    d = evaluate_discharge(_esk_ready(120), get_protocol("esketamine-trd"))
    assert (d.ready, d.codes(), d.earliest_at) == (True, (), T0 + timedelta(minutes=120))


def test_esketamine_discharge_before_120_min_is_refused() -> None:
    d = evaluate_discharge(_esk_ready(119), get_protocol("esketamine-trd"))
    assert (d.ready, d.codes()) == (False, ("min_observation_not_met",))
    assert "119 min since the first dose" in d.unmet[0].message


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"latest_moaas": 4}, "sedation_unresolved"),
        ({"latest_moaas": None}, "sedation_unresolved"),
        ({"unresolved_side_effects": ["dissociation"]}, "side_effect_unresolved"),
        ({"escort_present": False}, "no_escort"),
        ({"vitals": [v(-10), v(40), v(100)]}, "pre_discharge_vitals_missing"),
        ({"vitals": [v(-10), v(30), v(125)]}, "bp_at_required_time_missing"),
        ({"vitals": [v(-10), v(40), v(125, sbp=141)]}, "vitals_not_near_baseline"),
        ({"vitals": [v(-10), v(40), v(125, dbp=91)]}, "vitals_not_near_baseline"),
        ({"vitals": [v(-10), v(40), v(125, hr=91)]}, "vitals_not_near_baseline"),
        ({"vitals": [v(-10), v(40), v(125, spo2=93)]}, "vitals_not_near_baseline"),
        ({"first_dose_at": None}, "no_dose_recorded"),
    ],
)
def test_each_discharge_criterion_refuses_alone(over: dict, code: str) -> None:
    d = evaluate_discharge(_esk_ready(130, **over), get_protocol("esketamine-trd"))
    assert d.ready is False
    assert d.codes() == (code,) if code != "no_dose_recorded" else code in d.codes()


def test_bp_at_40_min_tolerance_is_plus_minus_5() -> None:
    p = get_protocol("esketamine-trd")
    assert evaluate_discharge(_esk_ready(130, vitals=[v(-10), v(45), v(125)]), p).ready is True
    assert evaluate_discharge(_esk_ready(130, vitals=[v(-10), v(46), v(125)]), p).codes() == (
        "bp_at_required_time_missing",
    )


def test_iv_discharge_counts_from_end_of_infusion() -> None:
    p = get_protocol("iv-racemic-depression")
    inp = _esk_ready(69, dose_end_at=T0 + timedelta(minutes=40), vitals=[v(-10), v(65)])
    assert evaluate_discharge(inp, p).codes() == ("min_observation_not_met",)
    inp = _esk_ready(70, dose_end_at=T0 + timedelta(minutes=40), vitals=[v(-10), v(65)])
    assert evaluate_discharge(inp, p).ready is True
