"""Streaming alert rule sets (threshold, sustained, rate-of-change, with hysteresis) loaded from data files."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import resources
from typing import Any

from ketaclinic.core.monitoring.catalog import DataFileError, MetricCatalog, load_catalog
from ketaclinic.core.protocols.monitoring import VitalRule, monitoring_rules
from ketaclinic.core.yamlfile import load_yaml

#: Flowsheet vital -> sensor metric, for rules that alert from the shared threshold table.
VITAL_METRICS: Mapping[str, str] = {
    "systolic": "sbp",
    "diastolic": "dbp",
    "heart_rate": "hr",
    "spo2": "spo2",
    "respiratory_rate": "rr",
}


class RuleType(StrEnum):
    THRESHOLD = "threshold"
    SUSTAINED = "sustained"
    RATE_OF_CHANGE = "rate_of_change"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule.

    threshold / sustained: `direction` is "above" or "below"; the rule enters when the value is beyond
    `enter` (strictly) and leaves when it is back past `exit` (non-strictly), where exit sits on the
    normal side of enter (the hysteresis band). A sustained rule also needs the value to stay beyond
    `exit` (after first passing `enter`) for `duration_seconds` before it fires.
    rate_of_change: `direction` is "rise" or "fall"; it fires when the value has moved by at least `delta`
    from the lowest (rise) or highest (fall) value of the last `window_seconds` (and, when
    `duration_seconds` > 0, has stayed moved by more than `exit_delta` for that long), and clears when
    that movement is back to `exit_delta` or less.
    """

    id: str
    type: RuleType
    metric: str
    direction: str
    severity: Severity
    source: str
    enter: float = math.nan
    exit: float = math.nan
    duration_seconds: float = 0.0
    delta: float = math.nan
    exit_delta: float = math.nan
    window_seconds: float = 0.0
    protocol_threshold: str | None = None
    #: The row of the shared in-session threshold table this rule alerts from (None: sensor-only rule).
    threshold: str | None = None

    def describe(self, unit: str) -> str:
        """Human wording of the condition, e.g. 'SBP above 180 mm[Hg]'."""
        if self.type is RuleType.RATE_OF_CHANGE:
            return (
                f"{self.metric} {self.direction} of ≥{self.delta:g} {unit} within {self.window_seconds:g} s"
            )
        text = f"{self.metric} {self.direction} {self.enter:g} {unit}"
        if self.type is RuleType.SUSTAINED:
            text += f" for {self.duration_seconds:g} s"
        return text


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Seconds an alert of each severity may stay unacknowledged before it escalates, with sources."""

    ack_within_seconds: Mapping[Severity, float]
    sources: Mapping[Severity, str]

    def due_after(self, severity: Severity) -> float:
        return self.ack_within_seconds[severity]


@dataclass(frozen=True, slots=True)
class RuleSet:
    id: str
    version: str
    description: str
    rules: tuple[Rule, ...]
    max_gap_seconds: float
    rearm_seconds: float
    clear_after_seconds: float
    escalation: EscalationPolicy
    sources: Mapping[str, str]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def with_protocol_thresholds(self, thresholds: Mapping[str, float]) -> RuleSet:
        """A copy whose rules named by `protocol_threshold` enter at the protocol's value.

        The hysteresis gap (enter - exit) of each rule is kept. Unknown names raise ValueError naming them,
        so a protocol typo cannot silently leave the default in force.
        """
        used = {r.protocol_threshold for r in self.rules if r.protocol_threshold}
        unknown = sorted(set(thresholds) - used)
        if unknown:
            raise ValueError(
                f"unknown protocol thresholds: {', '.join(unknown)}; known: {', '.join(sorted(used))}"
            )
        rules: list[Rule] = []
        for r in self.rules:
            if r.protocol_threshold is not None and r.protocol_threshold in thresholds:
                new = float(thresholds[r.protocol_threshold])
                if not math.isfinite(new):
                    raise ValueError(f"{r.protocol_threshold}: must be a finite number")
                gap = r.enter - r.exit
                r = replace(r, enter=new, exit=new - gap)
            rules.append(r)
        return replace(self, rules=tuple(rules))


def _num(raw: object, where: str, *, positive: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(float(raw)):
        raise DataFileError(f"{where}: must be a finite number, got {raw!r}")
    if positive and raw <= 0:
        raise DataFileError(f"{where}: must be greater than 0")
    return float(raw)


def _str(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise DataFileError(f"{where}: must be a non-empty string")
    return raw.strip()


def _from_table(raw: dict[str, Any], where: str, table: Mapping[str, VitalRule]) -> dict[str, Any]:
    """Fill metric, direction, enter, exit, severity and source of a rule from its threshold-table row."""
    code = _str(raw.get("threshold"), f"{where}.threshold")
    row = table.get(code)
    if row is None:
        raise DataFileError(f"{where}.threshold: unknown threshold {code!r}; known: {', '.join(table)}")
    for key in ("metric", "direction", "enter", "exit", "severity", "source"):
        if key in raw:
            raise DataFileError(f"{where}.{key}: comes from the threshold table row {code!r}; remove it")
    gap = _num(raw.get("hysteresis"), f"{where}.hysteresis", positive=True)
    above = row.op == "gt"
    return {
        **raw,
        "metric": VITAL_METRICS[row.vital],
        "direction": "above" if above else "below",
        "enter": row.value,
        "exit": row.value - gap if above else row.value + gap,
        "severity": "critical" if row.level == "critical" else "warning",
        "source": f"{row.source} [{row.evidence}]",
    }


def _parse_rule(raw: Any, where: str, catalog: MetricCatalog, table: Mapping[str, VitalRule]) -> Rule:
    if not isinstance(raw, dict):
        raise DataFileError(f"{where}: must be a mapping")
    threshold = None
    if "threshold" in raw:
        raw = _from_table(raw, where, table)
        threshold = str(raw["threshold"])
    rid = _str(raw.get("id"), f"{where}.id")
    try:
        rtype = RuleType(str(raw.get("type")))
    except ValueError:
        raise DataFileError(f"{where}.type: must be one of {', '.join(t.value for t in RuleType)}") from None
    metric = _str(raw.get("metric"), f"{where}.metric")
    if metric not in catalog.by_key:
        raise DataFileError(f"{where}.metric: unknown metric {metric!r}; known: {', '.join(catalog.by_key)}")
    try:
        severity = Severity(str(raw.get("severity")))
    except ValueError:
        raise DataFileError(f"{where}.severity: must be warning or critical") from None
    source = _str(raw.get("source"), f"{where}.source")
    direction = raw.get("direction")
    pt = raw.get("protocol_threshold")
    if pt is not None:
        pt = _str(pt, f"{where}.protocol_threshold")
    if rtype is RuleType.RATE_OF_CHANGE:
        if direction not in ("rise", "fall"):
            raise DataFileError(f"{where}.direction: a rate_of_change rule needs rise or fall")
        delta = _num(raw.get("delta"), f"{where}.delta", positive=True)
        exit_delta = _num(raw.get("exit_delta"), f"{where}.exit_delta")
        if not 0 <= exit_delta < delta:
            raise DataFileError(f"{where}.exit_delta: must be >= 0 and below delta (hysteresis)")
        window = _num(raw.get("window_seconds"), f"{where}.window_seconds", positive=True)
        persist = _num(raw.get("duration_seconds", 0), f"{where}.duration_seconds")
        if not 0 <= persist < window:
            raise DataFileError(f"{where}.duration_seconds: must be >= 0 and below window_seconds")
        if pt is not None or threshold is not None:
            key = "protocol_threshold" if pt is not None else "threshold"
            raise DataFileError(f"{where}.{key}: only threshold and sustained rules take one")
        return Rule(
            id=rid, type=rtype, metric=metric, direction=direction, severity=severity, source=source,
            delta=delta, exit_delta=exit_delta, window_seconds=window, duration_seconds=persist,
        )  # fmt: skip
    if direction not in ("above", "below"):
        raise DataFileError(f"{where}.direction: a {rtype.value} rule needs above or below")
    enter = _num(raw.get("enter"), f"{where}.enter")
    exit_ = _num(raw.get("exit"), f"{where}.exit")
    if (direction == "above" and not exit_ <= enter) or (direction == "below" and not exit_ >= enter):
        raise DataFileError(f"{where}.exit: must be on the normal side of enter (hysteresis)")
    duration = 0.0
    if rtype is RuleType.SUSTAINED:
        duration = _num(raw.get("duration_seconds"), f"{where}.duration_seconds", positive=True)
    return Rule(
        id=rid, type=rtype, metric=metric, direction=direction, severity=severity, source=source,
        enter=enter, exit=exit_, duration_seconds=duration, protocol_threshold=pt, threshold=threshold,
    )  # fmt: skip


def parse_ruleset(
    doc: Any, *, catalog: MetricCatalog | None = None, table: Mapping[str, VitalRule] | None = None
) -> RuleSet:
    """Validate a rule-set document (already parsed YAML); raises DataFileError naming the field.

    `table` is the in-session threshold table by code (default: the packaged one) for `threshold:` rules.
    """
    cat = catalog if catalog is not None else load_catalog()
    rows = table if table is not None else {r.code: r for r in monitoring_rules().during}
    if not isinstance(doc, dict):
        raise DataFileError("ruleset: top level must be a mapping")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise DataFileError("rules: must be a non-empty list")
    rules = tuple(_parse_rule(r, f"rules[{i}]", cat, rows) for i, r in enumerate(raw_rules))
    ids = [r.id for r in rules]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataFileError(f"rules: duplicate rule id(s) {', '.join(dup)}")
    esc_raw = doc.get("escalation")
    if not isinstance(esc_raw, dict):
        raise DataFileError("escalation: must be a mapping with critical and warning")
    ack: dict[Severity, float] = {}
    esc_src: dict[Severity, str] = {}
    for sev in Severity:
        e = esc_raw.get(sev.value)
        if not isinstance(e, dict):
            raise DataFileError(
                f"escalation.{sev.value}: required mapping with ack_within_seconds and source"
            )
        ack[sev] = _num(
            e.get("ack_within_seconds"), f"escalation.{sev.value}.ack_within_seconds", positive=True
        )
        esc_src[sev] = _str(e.get("source"), f"escalation.{sev.value}.source")
    return RuleSet(
        id=_str(doc.get("id"), "id"),
        version=_str(doc.get("version"), "version"),
        description=_str(doc.get("description"), "description"),
        rules=rules,
        max_gap_seconds=_num(doc.get("max_gap_seconds"), "max_gap_seconds", positive=True),
        rearm_seconds=_num(doc.get("rearm_seconds", 0), "rearm_seconds"),
        clear_after_seconds=_num(doc.get("clear_after_seconds", 0), "clear_after_seconds"),
        escalation=EscalationPolicy(ack_within_seconds=ack, sources=esc_src),
        sources={
            "max_gap_seconds": _str(doc.get("max_gap_source"), "max_gap_source"),
            "rearm_seconds": _str(doc.get("rearm_source"), "rearm_source"),
            "clear_after_seconds": _str(doc.get("clear_after_source"), "clear_after_source"),
        },
    )


@functools.cache
def load_default_ruleset() -> RuleSet:
    """The packaged default rule set (cached)."""
    text = resources.files("ketaclinic.core.monitoring").joinpath("data/rules.yaml").read_text("utf-8")
    return parse_ruleset(load_yaml(text))
