"""Bridge from the protocol library's in-session vital thresholds to the streaming rule set's thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ketaclinic.core.monitoring.rules import RuleSet, load_default_ruleset
from ketaclinic.core.protocols.monitoring import MonitoringRules, VitalRule, monitoring_rules

#: (protocol vital, protocol op) -> the streaming rule set's `protocol_threshold` name.
PROTOCOL_THRESHOLD_NAMES: Mapping[tuple[str, str], str] = {
    ("systolic", "gt"): "sbp_max",
    ("diastolic", "gt"): "dbp_max",
    ("heart_rate", "gt"): "hr_max",
    ("heart_rate", "lt"): "hr_min",
    ("spo2", "lt"): "spo2_min",
    ("respiratory_rate", "lt"): "rr_min",
    ("respiratory_rate", "gt"): "rr_max",
}


def thresholds_from_vital_rules(rules: Iterable[VitalRule]) -> dict[str, float]:
    """The protocol's intra-dose stop triggers as {threshold name: value}.

    When a vital has several rules in the same direction (e.g. SBP >160 warn and >180 critical) the
    critical one (the stop/hold trigger) sets the streaming threshold; the warn-level ones are for the
    manual flowsheet's "reassess more often" prompts.
    """
    chosen: dict[str, VitalRule] = {}
    for r in rules:
        name = PROTOCOL_THRESHOLD_NAMES.get((r.vital, r.op))
        if name is None:
            continue
        prev = chosen.get(name)
        if prev is None or (r.level == "critical" and prev.level != "critical"):
            chosen[name] = r
    return {name: r.value for name, r in chosen.items()}


def session_ruleset(rules: MonitoringRules | None = None, *, base: RuleSet | None = None) -> RuleSet:
    """The streaming rule set for a session: the packaged defaults with the protocol's stop triggers."""
    m = rules if rules is not None else monitoring_rules()
    rs = base if base is not None else load_default_ruleset()
    return rs.with_protocol_thresholds(thresholds_from_vital_rules(m.during))
