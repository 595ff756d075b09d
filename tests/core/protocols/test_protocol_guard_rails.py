"""Per-protocol infusion guard rails (session total, maximum duration, maximum rate, bolus ceiling) and the
patient checks (age on the dose date, weight change against a recent previous weight)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.core.protocols.protocol_helpers import at, codes, dose, esk, request, run

from ketaclinic.core.protocols import (
    DoseRequestError,
    ProtocolError,
    get_protocol,
    load_protocols,
    missing_guard_rails,
    parse_protocol,
)

IV = "iv-racemic-depression"
PAIN = "iv-ketamine-chronic-pain"
ESK = "esketamine-trd"
IM = "im-ketamine-depression"


# session_total_exceeded / duration_exceeded ---------------------------------------------------------


def test_pain_twelve_mg_per_kg_over_24_hours_is_blocked() -> None:
    # The case: 840 mg at 70 kg over 24 h is only 0.5 mg/kg/h, so the rate alone let it through.
    r = run(request(PAIN, dose(at(), 840, duration_min=1440)))
    assert r.decision == "block"
    assert codes(r) == {"session_total_exceeded": "block", "duration_exceeded": "block"}
    total = next(f.message for f in r.findings if f.code == "session_total_exceeded")
    assert total.startswith(
        "Session total 12 mg/kg (840 mg at 70 kg) exceeds the protocol's 2 mg/kg per session."
    )
    assert "Cohen 2018" in total
    duration = next(f.message for f in r.findings if f.code == "duration_exceeded")
    assert duration.startswith(
        "Infusion over 1440 min is longer than the protocol's maximum 300 min per session."
    )


def test_pain_crps_regimen_is_allowed() -> None:
    # 0.35 mg/kg/h over 4 h = 1.4 mg/kg = 98 mg at 70 kg
    assert run(request(PAIN, dose(at(), 98, duration_min=240))).to_dict() == {
        "decision": "allow",
        "findings": [],
    }


def test_pain_session_total_boundary() -> None:
    assert run(request(PAIN, dose(at(), 140, duration_min=300))).decision == "allow"  # exactly 2 mg/kg
    assert codes(run(request(PAIN, dose(at(), 141, duration_min=300)))) == {"session_total_exceeded": "block"}


def test_pain_duration_boundary() -> None:
    assert run(request(PAIN, dose(at(), 98, duration_min=300))).decision == "allow"
    assert codes(run(request(PAIN, dose(at(), 98, duration_min=301)))) == {"duration_exceeded": "block"}


def test_session_total_counts_earlier_doses_of_the_same_session() -> None:
    bolus = dose(at(), 24.5, duration_min=5)  # 0.35 mg/kg loading bolus
    r = run(request(PAIN, dose(at(hours=0.25), 126, duration_min=240), [bolus]))  # 1.8 mg/kg
    assert codes(r)["session_total_exceeded"] == "block"
    msg = next(f.message for f in r.findings if f.code == "session_total_exceeded")
    assert msg.startswith(
        "Session total 2.15 mg/kg (150.5 mg at 70 kg with 1 earlier dose(s) of this session)"
    )
    # A dose from yesterday's session is not part of today's total.
    r = run(request(PAIN, dose(at(days=1), 126, duration_min=240), [bolus]))
    assert "session_total_exceeded" not in codes(r)


def test_depression_infusion_duration_and_session_total() -> None:
    assert run(request(IV, dose(at(), 35, duration_min=100))).decision == "allow"
    assert codes(run(request(IV, dose(at(), 35, duration_min=101)))) == {"duration_exceeded": "block"}


# bolus_exceeded / rate_exceeded -----------------------------------------------------------------------


def test_depression_push_of_half_a_mg_per_kg_over_two_minutes_is_blocked() -> None:
    r = run(request(IV, dose(at(), 35, duration_min=2)))  # 0.5 mg/kg at 70 kg
    assert r.decision == "block"
    assert codes(r) == {"dose_above_protocol": "warn", "bolus_exceeded": "block"}
    msg = next(f.message for f in r.findings if f.code == "bolus_exceeded")
    assert msg.startswith(
        "Given over 2 min, less than the 15-min minimum infusion time: 35 mg = 0.5 mg/kg at 70 kg exceeds the "
        "bolus maximum 0.35 mg/kg."
    )


def test_depression_small_push_only_warns() -> None:
    assert codes(run(request(IV, dose(at(), 24.5, duration_min=2)))) == {"dose_above_protocol": "warn"}


def test_depression_rate_ceiling() -> None:
    # 0.5 mg/kg over 20 min = 1.5 mg/kg/h (the maximum): only the <40 min warning
    assert codes(run(request(IV, dose(at(), 35, duration_min=20)))) == {"dose_above_protocol": "warn"}
    r = run(request(IV, dose(at(), 35, duration_min=19)))
    assert codes(r) == {"dose_above_protocol": "warn", "rate_exceeded": "block"}
    assert "exceeds the maximum 1.5 mg/kg/h" in next(
        f.message for f in r.findings if f.code == "rate_exceeded"
    )


def test_minimum_infusion_time_boundary() -> None:
    # 25 mg at 70 kg = 0.357 mg/kg: over exactly 15 min it is an infusion (1.43 mg/kg/h, warns), below it a bolus
    assert codes(run(request(PAIN, dose(at(), 25, duration_min=15)))) == {"dose_above_protocol": "warn"}
    assert codes(run(request(PAIN, dose(at(), 25, duration_min=14.9)))) == {"bolus_exceeded": "block"}


def test_legacy_bolus_duration_key_keeps_its_inclusive_meaning() -> None:
    raw = copy.deepcopy(dict(get_protocol(PAIN).raw))
    inf = raw["infusion"]
    inf["bolus_max_duration_min"] = inf.pop("min_infusion_min")
    legacy = parse_protocol(raw)
    assert legacy.infusion is not None
    assert legacy.infusion.is_bolus(15) and not legacy.infusion.is_bolus(15.1)
    assert not get_protocol(PAIN).infusion.is_bolus(15)  # type: ignore[union-attr]


# protocol data -----------------------------------------------------------------------------------------


def test_every_packaged_infusion_protocol_states_its_guard_rails() -> None:
    infusion = [p for p in load_protocols() if p.infusion is not None]
    assert {p.id for p in infusion} >= {IV, PAIN}
    assert {p.id: missing_guard_rails(p) for p in infusion} == {p.id: () for p in infusion}
    assert all(p.infusion.bolus_block_above_mg_per_kg is not None for p in infusion)  # type: ignore[union-attr]


def test_key_guard_rail_numbers() -> None:
    pain = get_protocol(PAIN).infusion
    iv = get_protocol(IV).infusion
    assert pain is not None and iv is not None
    assert (
        pain.session_max_mg_per_kg.value,  # type: ignore[union-attr]
        pain.max_duration_min.value,  # type: ignore[union-attr]
        pain.rate_block_above_mg_per_kg_h.value,  # type: ignore[union-attr]
        pain.min_infusion_min.value,  # type: ignore[union-attr]
        pain.bolus_block_above_mg_per_kg.value,  # type: ignore[union-attr]
    ) == (2.0, 300, 2.0, 15, 0.35)
    assert (
        iv.session_max_mg_per_kg.value,  # type: ignore[union-attr]
        iv.max_duration_min.value,  # type: ignore[union-attr]
        iv.rate_block_above_mg_per_kg_h.value,  # type: ignore[union-attr]
        iv.min_infusion_min.value,  # type: ignore[union-attr]
        iv.bolus_block_above_mg_per_kg.value,  # type: ignore[union-attr]
    ) == (1.0, 100, 1.5, 15, 0.35)


def test_missing_guard_rails_are_listed() -> None:
    raw = copy.deepcopy(dict(get_protocol(PAIN).raw))
    for key in ("session_max_mg_per_kg", "max_duration_min", "rate_block_above_mg_per_kg_h"):
        raw["infusion"].pop(key)
    assert missing_guard_rails(parse_protocol(raw)) == (
        "infusion.session_max_mg_per_kg",
        "infusion.max_duration_min",
        "infusion.rate_block_above_mg_per_kg_h",
    )
    assert missing_guard_rails(get_protocol(IM)) == ()  # no infusion policy


def _pain_with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(dict(get_protocol(PAIN).raw))
    for key, value in changes.items():
        if value is None:
            raw["infusion"].pop(key)
        else:
            raw["infusion"][key] = value
    return raw


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        (
            {"bolus_max_duration_min": {"value": 10, "evidence": "R", "source": "x"}},
            "infusion.bolus_max_duration_min",
        ),
        ({"min_infusion_min": None}, "infusion.min_infusion_min"),
        (
            {"max_duration_min": {"value": 100, "evidence": "R", "source": "x"}},
            "infusion.default_duration_min.value",
        ),
        ({"session_max_mg_per_kg": {"value": 1.0, "evidence": "R", "source": "x"}}, "dose.default.value"),
        ({"session_max_mg_per_kg": {"value": 2.0, "evidence": "R"}}, "infusion.session_max_mg_per_kg.source"),
        (
            {"max_duration_min": {"value": 0, "evidence": "R", "source": "x"}},
            "infusion.max_duration_min.value",
        ),
        (
            {"rate_warn_above_mg_per_kg_h": {"value": 3, "evidence": "R", "source": "x"}},
            "infusion.rate_warn_above_mg_per_kg_h.value",
        ),
    ],
)
def test_malformed_guard_rails_name_the_field(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(_pain_with(**changes))
    assert exc.value.path == path


# age_below_label / age_under_18 -------------------------------------------------------------------------


def test_esketamine_under_18_on_the_dose_date_is_blocked() -> None:
    # T0 is 2025-01-06: born 2007-01-07 the patient is 17 that day, born 2007-01-06 turns 18 that day.
    r = run(request(ESK, esk(at(), 56), birth_date="2007-01-07"))
    assert r.decision == "block"
    assert codes(r) == {"age_below_label": "block"}
    assert r.findings[0].message.startswith(
        "Patient is 17 on 2025-01-06: esketamine is labelled only for patients aged 18 and over."
    )
    assert codes(run(request(ESK, esk(at(), 56), birth_date="2007-01-06"))) == {}


def test_racemic_ketamine_under_18_warns() -> None:
    r = run(request(IV, dose(at(), 35, duration_min=40), birth_date="2010-05-01"))
    assert codes(r) == {"age_under_18": "warn"}
    assert r.findings[0].message.startswith("Patient is 14 on 2025-01-06: under 18")
    assert codes(run(request(IV, dose(at(), 35, duration_min=40), birth_date="2007-01-06"))) == {}


def test_no_birth_date_no_age_finding() -> None:
    assert run(request(ESK, esk(at(), 56))).decision == "allow"


# weight_changed ------------------------------------------------------------------------------------------


def _with_previous(req: dict[str, Any], kg: float, on: str) -> dict[str, Any]:
    req["patient"].update(previous_weight_kg=kg, previous_weight_date=on)
    return req


def test_weight_that_moved_more_than_ten_percent_in_thirty_days_warns() -> None:
    r = run(_with_previous(request(IV, dose(at(), 35, duration_min=40), weight=77.1), 70, "2024-12-17"))
    assert codes(r) == {"weight_changed": "warn"}
    assert r.findings[0].message.startswith(
        "Weight 77.1 kg is 10.1% away from 70 kg recorded on 2024-12-17 (20 days earlier)"
    )


def test_pounds_typed_as_kilograms_warns() -> None:
    # 70 kg entered as 154 (pounds): a plausible adult weight, but not this patient's.
    r = run(_with_previous(request(IV, dose(at(), 35, duration_min=40), weight=154), 70, "2025-01-03"))
    assert "weight_changed" in codes(r)


@pytest.mark.parametrize(
    ("weight", "previous", "on"),
    [(77, 70, "2024-12-17"), (63, 70, "2024-12-17"), (80, 70, "2024-12-06"), (70, 70, "2025-01-06")],
)
def test_weight_change_within_ten_percent_or_older_than_thirty_days_is_quiet(
    weight: float, previous: float, on: str
) -> None:
    r = run(_with_previous(request(IV, dose(at(), 35, duration_min=40), weight=weight), previous, on))
    assert "weight_changed" not in codes(r)


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"weight_kg": 70, "previous_weight_kg": 70}, "patient.previous_weight_date"),
        ({"weight_kg": 70, "previous_weight_date": "2025-01-01"}, "patient.previous_weight_kg"),
        (
            {"weight_kg": 70, "previous_weight_kg": 0, "previous_weight_date": "2025-01-01"},
            "patient.previous_weight_kg",
        ),
        (
            {"weight_kg": 70, "previous_weight_kg": "70", "previous_weight_date": "2025-01-01"},
            "patient.previous_weight_kg",
        ),
        (
            {"weight_kg": 70, "previous_weight_kg": 70, "previous_weight_date": "01/01/2025"},
            "patient.previous_weight_date",
        ),
        ({"weight_kg": 70, "birth_date": 2007}, "patient.birth_date"),
    ],
)
def test_bad_patient_fields_name_the_field(patient: dict[str, Any], field: str) -> None:
    with pytest.raises(DoseRequestError) as exc:
        run({"patient": patient, "protocol": IV, "proposed": dose(at(), 35)})
    assert exc.value.field == field
