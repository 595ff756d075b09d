"""Dose guard: every finding code triggered and not triggered, levels, and decision precedence."""

from __future__ import annotations

import pytest
from tests.core.protocols.protocol_helpers import at, codes, dose, esk, request, run

from ketaclinic.core.protocols import FINDING_CODES, DoseRequestError

IV = "iv-racemic-depression"
PAIN = "iv-ketamine-chronic-pain"
ESK = "esketamine-trd"
SI = "esketamine-mdd-si"
ORAL = "oral-sublingual-compounded"
IM = "im-ketamine-depression"


def test_standard_iv_dose_is_allowed_with_no_findings() -> None:
    r = run(request(IV, dose(at(), 35, duration_min=40)))
    assert r.to_dict() == {"decision": "allow", "findings": []}


def test_standard_esketamine_first_dose_is_allowed() -> None:
    assert run(request(ESK, esk(at(), 56))).to_dict() == {"decision": "allow", "findings": []}


# weight_implausible ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "level"),
    [(0, "block"), (-5, "block"), (29.9, "block"), (300.1, "block"), (39.9, "warn"), (200.5, "warn")],
)
def test_weight_implausible_triggers(weight: float, level: str) -> None:
    r = run(request(ESK, esk(at(), 56), weight=weight))
    assert codes(r) == {"weight_implausible": level}
    assert r.decision == level


@pytest.mark.parametrize("weight", [40, 70, 200])
def test_weight_at_or_inside_limits_gives_no_weight_finding(weight: float) -> None:
    r = run(request(ESK, esk(at(), 56), weight=weight))
    assert "weight_implausible" not in codes(r)


@pytest.mark.parametrize("weight", [30, 300])
def test_weight_at_block_limit_only_warns(weight: float) -> None:
    assert codes(run(request(ESK, esk(at(), 56), weight=weight))) == {"weight_implausible": "warn"}


# dose_exceeds_max / dose_above_protocol ---------------------------------------------------------


def test_iv_dose_above_hard_ceiling_blocks_and_above_protocol_warns() -> None:
    r = run(request(IV, dose(at(), 70.1, duration_min=40)))  # 1.0014 mg/kg at 70 kg
    assert codes(r) == {
        "dose_exceeds_max": "block",
        "dose_above_protocol": "warn",
        "rate_exceeded": "block",  # 1.502 mg/kg/h > 1.5
        "session_total_exceeded": "block",  # > 1.0 mg/kg per session
    }
    assert r.decision == "block"
    assert "1 mg/kg" in r.findings[0].message and "Source:" in r.findings[0].message


def test_iv_dose_exactly_at_ceiling_only_warns() -> None:
    r = run(request(IV, dose(at(), 70, duration_min=40)))  # 1.0 mg/kg
    assert codes(r) == {"dose_above_protocol": "warn"}


def test_iv_dose_exactly_at_protocol_top_is_allowed() -> None:
    assert run(request(IV, dose(at(), 52.5, duration_min=40))).decision == "allow"  # 0.75 mg/kg
    r = run(request(IV, dose(at(), 52.6, duration_min=40)))
    assert codes(r) == {"dose_above_protocol": "warn"}


def test_iv_infusion_faster_than_40_min_warns_and_default_duration_is_assumed() -> None:
    assert codes(run(request(IV, dose(at(), 35, duration_min=39)))) == {"dose_above_protocol": "warn"}
    assert run(request(IV, dose(at(), 35))).decision == "allow"


def test_esketamine_over_84_blocks() -> None:
    r = run(request(ESK, esk(at(days=3), 112), history=[esk(at(), 56)]))
    assert codes(r) == {"dose_exceeds_max": "block"}
    assert run(request(ESK, esk(at(days=3), 84), history=[esk(at(), 56)])).decision == "allow"


def test_esketamine_first_dose_above_56_warns_but_later_84_is_allowed() -> None:
    assert codes(run(request(ESK, esk(at(), 84)))) == {"dose_above_protocol": "warn"}
    assert codes(run(request(SI, esk(at(), 84)))) == {}


def test_esketamine_first_dose_rule_for_65_plus_only_when_configured() -> None:
    # The US protocol has no age-specific first dose: 56 mg at 70 is allowed.
    assert run(request(ESK, esk(at(), 56), birth_date="1950-01-01")).decision == "allow"


def test_pain_bolus_above_035_mg_per_kg_blocks() -> None:
    assert codes(run(request(PAIN, dose(at(), 25, duration_min=5)))) == {"bolus_exceeded": "block"}
    assert run(request(PAIN, dose(at(), 24.5, duration_min=5))).decision == "allow"  # exactly 0.35 mg/kg


def test_pain_infusion_rate_bands() -> None:
    # 70 kg over 30 min: 1 mg/kg/h = 35 mg, 2 mg/kg/h = 70 mg (all under the 2 mg/kg session total)
    assert run(request(PAIN, dose(at(), 35, duration_min=30))).decision == "allow"
    assert codes(run(request(PAIN, dose(at(), 36, duration_min=30)))) == {"dose_above_protocol": "warn"}
    assert codes(run(request(PAIN, dose(at(), 70, duration_min=30)))) == {"dose_above_protocol": "warn"}
    assert codes(run(request(PAIN, dose(at(), 71, duration_min=30)))) == {"rate_exceeded": "block"}


def test_oral_absolute_mg_ceiling_blocks_even_when_mg_per_kg_is_fine() -> None:
    r = run(request(ORAL, dose(at(), 301, route="oral"), weight=150))  # 2.0 mg/kg but >300 mg
    assert codes(r) == {"dose_exceeds_max": "block"}


# invalid_device_multiple -------------------------------------------------------------------------


@pytest.mark.parametrize("mg", [27, 30, 55.9, 70])
def test_non_multiple_of_28_blocks(mg: float) -> None:
    assert codes(run(request(ESK, esk(at(days=3), mg), history=[esk(at(), 56)]))) == {
        "invalid_device_multiple": "block"
    }


@pytest.mark.parametrize("mg", [28, 56, 84])
def test_multiples_of_28_have_no_device_finding(mg: float) -> None:
    assert "invalid_device_multiple" not in codes(
        run(request(ESK, esk(at(days=3), mg), history=[esk(at(), 56)]))
    )


def test_ketamine_protocols_have_no_device_rule() -> None:
    assert "invalid_device_multiple" not in codes(run(request(IV, dose(at(), 33.3))))


# interval_too_short ------------------------------------------------------------------------------


def test_interval_bands() -> None:
    prev = [dose(at(), 35)]
    assert codes(run(request(IV, dose(at(hours=19.9), 35), prev))) == {"interval_too_short": "block"}
    assert codes(run(request(IV, dose(at(hours=20), 35), prev))) == {"interval_too_short": "warn"}
    assert codes(run(request(IV, dose(at(hours=43.9), 35), prev))) == {"interval_too_short": "warn"}
    assert codes(run(request(IV, dose(at(hours=44), 35), prev))) == {}


def test_interval_counts_doses_of_the_other_drug_and_later_doses() -> None:
    # an esketamine session 6 h before an IV ketamine dose
    r = run(request(IV, dose(at(hours=6), 35), [esk(at(), 56)]))
    assert codes(r) == {"interval_too_short": "block"}
    # a back-dated entry 3 h before a later dose already in history
    r = run(request(IV, dose(at(), 35), [dose(at(hours=3), 35)]))
    assert codes(r) == {"interval_too_short": "block"}


# cumulative_exceeded -----------------------------------------------------------------------------


def test_iv_more_than_three_infusions_in_seven_days_warns() -> None:
    hist = [dose(at(days=0), 35), dose(at(days=2), 35), dose(at(days=4), 35)]
    assert codes(run(request(IV, dose(at(days=6), 35), hist))) == {"cumulative_exceeded": "warn"}
    # exactly 7 days after the first: the window (<7 days) holds 2 + this = 3
    assert codes(run(request(IV, dose(at(days=7), 35), hist))) == {}


def test_iv_cumulative_mg_per_kg_blocks() -> None:
    hist = [dose(at(days=0), 70), dose(at(days=2), 70)]  # 1.0 mg/kg each
    r = run(request(IV, dose(at(days=4), 70.1), hist))
    assert codes(r)["cumulative_exceeded"] == "block"
    assert "3 mg/kg" in next(f.message for f in r.findings if f.code == "cumulative_exceeded")


def test_esketamine_weekly_phase_frequency() -> None:
    # Induction (weeks 1-4): twice weekly allowed, a third dose in 7 days warns.
    hist = [esk(at(days=0), 56), esk(at(days=3), 56)]
    assert codes(run(request(ESK, esk(at(days=5), 56), hist))) == {"cumulative_exceeded": "warn"}
    # Week 5 (maintenance): once weekly, so a second dose within 7 days warns.
    hist = [esk(at(days=d), 56) for d in (0, 3, 7, 10, 14, 17, 21, 24, 28)]
    assert codes(run(request(ESK, esk(at(days=31), 56), hist))) == {"cumulative_exceeded": "warn"}
    assert codes(run(request(ESK, esk(at(days=35), 56), hist))) == {}


def test_esketamine_7_day_mg_cap_blocks() -> None:
    hist = [esk(at(days=0), 84), esk(at(days=2), 84)]
    r = run(request(ESK, esk(at(days=4), 28), hist))
    assert codes(r) == {"cumulative_exceeded": "block"}


def test_si_protocol_beyond_four_weeks_warns() -> None:
    hist = [esk(at(days=d), 84) for d in (0, 3, 7, 10, 14, 17, 20, 24)]
    assert codes(run(request(SI, esk(at(days=27), 84), hist))) == {}
    assert codes(run(request(SI, esk(at(days=28), 84), hist))) == {"cumulative_exceeded": "warn"}


# escalation_pattern ------------------------------------------------------------------------------


def test_dose_creep_over_four_doses_warns() -> None:
    hist = [dose(at(days=0), 30), dose(at(days=3), 35), dose(at(days=6), 40)]
    r = run(request(IV, dose(at(days=9), 45), hist))
    assert codes(r) == {"escalation_pattern": "warn"}
    assert "30 → 35 → 40 → 45" in r.findings[0].message


def test_no_escalation_when_dose_holds_or_falls() -> None:
    hist = [dose(at(days=0), 30), dose(at(days=3), 35), dose(at(days=6), 40)]
    assert codes(run(request(IV, dose(at(days=9), 40), hist))) == {}
    assert codes(run(request(IV, dose(at(days=9), 45), hist[1:]))) == {}  # only two increases


def test_shortening_intervals_warn() -> None:
    # gaps 96 h, 72 h, 48 h: each shorter, last < 0.75 * first
    hist = [dose(at(days=0), 35), dose(at(days=4), 35), dose(at(days=7), 35)]
    r = run(request(IV, dose(at(days=9), 35), hist))
    assert codes(r) == {"escalation_pattern": "warn"}


def test_intervals_not_shortening_enough_or_not_monotone_do_not_warn() -> None:
    # gaps 72, 70, 68 h: decreasing, but 68 > 0.75*72
    hist = [dose(at(hours=0), 35), dose(at(hours=72), 35), dose(at(hours=142), 35)]
    assert codes(run(request(IV, dose(at(hours=210), 35), hist))) == {}
    # twice-weekly esketamine: 72, 96, 72 h
    hist = [esk(at(days=0), 56), esk(at(days=3), 56), esk(at(days=7), 56)]
    assert codes(run(request(ESK, esk(at(days=10), 56), hist))) == {}


# deviates_from_order -----------------------------------------------------------------------------


def test_administered_above_order_blocks_below_order_warns() -> None:
    assert codes(run(request(IV, dose(at(), 36.76, ordered_mg=35)))) == {"deviates_from_order": "block"}
    assert codes(run(request(IV, dose(at(), 36.75, ordered_mg=35)))) == {}  # exactly +5 %
    assert codes(run(request(IV, dose(at(), 33.25, ordered_mg=35)))) == {}  # exactly -5 %
    assert codes(run(request(IV, dose(at(), 30, ordered_mg=35)))) == {"deviates_from_order": "warn"}


def test_esketamine_one_device_more_than_ordered_blocks() -> None:
    r = run(request(ESK, esk(at(days=3), 84, ordered_mg=56), [esk(at(), 56)]))
    assert codes(r) == {"deviates_from_order": "block"}


# precedence, merging, errors ---------------------------------------------------------------------


def test_decision_is_most_severe_and_one_finding_per_code() -> None:
    hist = [dose(at(), 35)]
    r = run(request(IV, dose(at(hours=30), 55, duration_min=38, ordered_mg=55), hist))
    assert r.decision == "warn"
    assert [f.code for f in r.findings] == ["dose_above_protocol", "interval_too_short"]
    merged = r.findings[0].message
    assert "above the protocol's 0.75 mg/kg" in merged and "Also: Infused over 38 min" in merged


def test_every_code_is_reachable_and_contract_codes_match() -> None:
    assert set(FINDING_CODES) == {
        "weight_implausible",
        "dose_exceeds_max",
        "dose_above_protocol",
        "invalid_device_multiple",
        "interval_too_short",
        "cumulative_exceeded",
        "escalation_pattern",
        "deviates_from_order",
        "session_total_exceeded",
        "duration_exceeded",
        "rate_exceeded",
        "bolus_exceeded",
        "age_below_label",
        "age_under_18",
        "weight_changed",
    }


@pytest.mark.parametrize(
    ("req", "field"),
    [
        ({"protocol": IV, "proposed": dose(at(), 35)}, "patient"),
        ({"patient": {}, "protocol": IV, "proposed": dose(at(), 35)}, "patient.weight_kg"),
        ({"patient": {"weight_kg": "70"}, "protocol": IV, "proposed": dose(at(), 35)}, "patient.weight_kg"),
        (
            {
                "patient": {"weight_kg": 70, "birth_date": "1/2/80"},
                "protocol": IV,
                "proposed": dose(at(), 35),
            },
            "patient.birth_date",
        ),
        ({"patient": {"weight_kg": 70}, "proposed": dose(at(), 35)}, "protocol"),
        ({"patient": {"weight_kg": 70}, "protocol": IV}, "proposed"),
        (
            {"patient": {"weight_kg": 70}, "protocol": IV, "proposed": dose("2025-01-06T09:00:00", 35)},
            "proposed.time",
        ),
        ({"patient": {"weight_kg": 70}, "protocol": IV, "proposed": dose(at(), 0)}, "proposed.dose_mg"),
        (
            {"patient": {"weight_kg": 70}, "protocol": IV, "proposed": dose(at(), 35, route="rectal")},
            "proposed.route",
        ),
        (
            {"patient": {"weight_kg": 70}, "protocol": IV, "proposed": dose(at(), 35, drug="x")},
            "proposed.drug",
        ),
        (
            {
                "patient": {"weight_kg": 70},
                "protocol": IV,
                "history": [{"time": at()}],
                "proposed": dose(at(), 35),
            },
            "history[0].drug",
        ),
        (
            {"patient": {"weight_kg": 70}, "protocol": IV, "proposed": dose(at(), 35, duration_min=-1)},
            "proposed.duration_min",
        ),
    ],
)
def test_bad_requests_name_the_field(req: dict, field: str) -> None:
    with pytest.raises(DoseRequestError) as exc:
        run(req)
    assert exc.value.field == field


def test_drug_or_route_not_in_protocol_is_bad_input() -> None:
    with pytest.raises(DoseRequestError) as exc:
        run(request(ESK, dose(at(), 35)))
    assert exc.value.field == "proposed.drug"
    with pytest.raises(DoseRequestError) as exc:
        run(request(IM, dose(at(), 35, route="iv")))
    assert exc.value.field == "proposed.route"
