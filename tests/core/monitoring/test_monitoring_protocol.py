"""The session's protocol stop triggers become the streaming rule set's thresholds."""

from __future__ import annotations

from ketaclinic.core.monitoring.protocol import session_ruleset, thresholds_from_vital_rules
from ketaclinic.core.protocols.monitoring import VitalRule, monitoring_rules


def _rule(vital: str, op: str, value: float, level: str) -> VitalRule:
    return VitalRule(code="c", vital=vital, op=op, value=value, level=level, pause_infusion=False,  # type: ignore[arg-type]
                     source="s", evidence="R")  # type: ignore[arg-type]  # fmt: skip


def test_critical_rule_wins_over_warn_for_the_same_vital() -> None:
    rules = [
        _rule("systolic", "gt", 160, "warn"),
        _rule("systolic", "gt", 175, "critical"),
        _rule("spo2", "lt", 93, "warn"),
    ]
    assert thresholds_from_vital_rules(rules) == {"sbp_max": 175, "spo2_min": 93}


def test_packaged_protocol_rules_drive_the_session_ruleset() -> None:
    assert thresholds_from_vital_rules(monitoring_rules().during) == {
        "sbp_max": 180.0, "dbp_max": 100.0, "hr_max": 110.0, "spo2_min": 92.0, "rr_min": 8.0, "hr_min": 50.0,
        "rr_max": 28.0,
    }  # fmt: skip
    rs = session_ruleset()
    assert (rs.rule("rr-low").enter, rs.rule("rr-low").exit) == (8.0, 10.0)
    assert (rs.rule("hr-low").enter, rs.rule("hr-low").exit) == (50.0, 55.0)
    assert (rs.rule("rr-high").enter, rs.rule("rr-high").exit) == (28.0, 24.0)
