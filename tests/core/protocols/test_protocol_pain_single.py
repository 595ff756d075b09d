"""The single chronic-pain infusion protocol's guard rails at 70 kg: allowed, short, over the session total, too long,
a bolus, and a repeat within the week."""

from __future__ import annotations

import pytest
from tests.core.protocols.protocol_helpers import at, dose, request, run

SINGLE = "iv-ketamine-pain-single"


@pytest.mark.parametrize(
    ("mg", "minutes", "decision", "codes"),
    [
        (70, 120, "allow", []),  # 1 mg/kg over 2 h: the default
        (70, 60, "warn", ["dose_above_protocol"]),  # shorter than 2 h
        (175, 240, "block", ["session_total_exceeded"]),  # 2.5 mg/kg > 2 mg/kg per session
        (70, 360, "block", ["duration_exceeded"]),  # longer than 5 h
        (28, 5, "block", ["dose_above_protocol", "bolus_exceeded"]),  # 0.4 mg/kg bolus > 0.35
        (140, 40, "block", ["dose_above_protocol", "rate_exceeded"]),  # 3 mg/kg/h > 2
    ],
)
def test_single_infusion_guard_rails(mg: float, minutes: int, decision: str, codes: list[str]) -> None:
    result = run(request(SINGLE, dose(at(), mg, duration_min=minutes)))
    assert result.decision == decision
    assert sorted(f.code for f in result.findings) == sorted(codes)


def test_a_repeat_within_the_week_warns_and_within_12_hours_blocks() -> None:
    first = dose(at(), 70, duration_min=120)
    week = run(request(SINGLE, dose(at(days=3), 70, duration_min=120), [first]))
    assert [(f.code, f.level) for f in week.findings] == [("interval_too_short", "warn")]
    same_day = run(request(SINGLE, dose(at(hours=6), 70, duration_min=120), [first]))
    assert same_day.decision == "block"
