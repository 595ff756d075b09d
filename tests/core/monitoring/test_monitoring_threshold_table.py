"""One in-session threshold table for both alert paths: the nurse's manual vitals and the sensor stream raise the
same alert (code and level) for the same reading, and every threshold of the table has its sensor rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketaclinic.core.monitoring.engine import EventKind, SessionMonitor
from ketaclinic.core.monitoring.protocol import session_ruleset
from ketaclinic.core.monitoring.rules import VITAL_METRICS, load_default_ruleset
from ketaclinic.core.protocols.monitoring import Vitals, evaluate_vitals, monitoring_rules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEVEL = {"warning": "warn", "critical": "critical"}


def _manual(vital: str, value: float) -> set[tuple[str, str]]:
    alerts = evaluate_vitals(Vitals(taken_at=T0, **{vital: value}), phase="during")
    return {(a.code, a.level) for a in alerts}


def _sensor(vital: str, value: float) -> set[tuple[str, str]]:
    """The most severe table alert the stream raises when the value holds for two minutes."""
    rs = session_ruleset()
    monitor = SessionMonitor("s1", rs)
    fired = set()
    for s in range(121):
        for ev in monitor.evaluate_value(VITAL_METRICS[vital], value, T0 + timedelta(seconds=s)):
            if ev.kind is EventKind.FIRED:
                fired.add(ev.rule_id)
    table = [rs.rule(rid) for rid in fired if rs.rule(rid).threshold is not None]
    if not table:
        return set()
    top = max(table, key=lambda r: r.severity == "critical")
    return {(str(top.threshold), LEVEL[top.severity])}


def _readings() -> list[tuple[str, float]]:
    out: set[tuple[str, float]] = set()
    for row in monitoring_rules().during:
        for delta in (-1.0, -0.5, 0.0, 0.5, 1.0):
            out.add((row.vital, row.value + delta))
    normal = {"systolic": 120, "diastolic": 75, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14}
    out.update(normal.items())
    return sorted(out)


@pytest.mark.parametrize(("vital", "value"), _readings())
def test_manual_and_sensor_paths_raise_the_same_alert_for_the_same_reading(vital: str, value: float) -> None:
    assert _sensor(vital, value) == _manual(vital, value)


@pytest.mark.parametrize(
    ("vital", "value", "expected"),
    [
        (
            "spo2",
            91,
            {("spo2_low", "critical")},
        ),  # SpO2 < 92 was critical on the flowsheet, warning on sensors
        ("spo2", 93, {("spo2_borderline", "warn")}),
        (
            "respiratory_rate",
            9,
            {("rr_low_warn", "warn")},
        ),  # RR 9 was critical on the flowsheet, quiet on sensors
        ("respiratory_rate", 7, {("rr_low", "critical")}),
        ("heart_rate", 115, {("hr_high", "critical")}),
        ("heart_rate", 47, {("hr_low", "warn")}),
        ("systolic", 170, {("sbp_high_warn", "warn")}),
    ],
)
def test_the_disagreements_are_settled(vital: str, value: float, expected: set[tuple[str, str]]) -> None:
    assert _manual(vital, value) == expected
    assert _sensor(vital, value) == expected


def test_every_table_row_has_exactly_one_sensor_rule_with_its_value_and_source() -> None:
    rs = load_default_ruleset()
    rows = {r.code: r for r in monitoring_rules().during}
    linked = [r for r in rs.rules if r.threshold is not None]
    assert sorted(r.threshold for r in linked) == sorted(rows)  # type: ignore[type-var]
    for rule in linked:
        row = rows[rule.threshold]  # type: ignore[index]
        assert rule.metric == VITAL_METRICS[row.vital]
        assert rule.enter == row.value
        assert LEVEL[rule.severity] == row.level
        assert rule.source == f"{row.source} [{row.evidence}]"


def test_a_sensor_rule_cannot_restate_a_table_value() -> None:
    from ketaclinic.core.monitoring.catalog import DataFileError
    from ketaclinic.core.monitoring.rules import parse_ruleset

    doc = {
        "id": "x",
        "version": "1",
        "description": "d",
        "max_gap_seconds": 30,
        "max_gap_source": "s",
        "rearm_source": "s",
        "clear_after_source": "s",
        "escalation": {
            "critical": {"ack_within_seconds": 60, "source": "s"},
            "warning": {"ack_within_seconds": 180, "source": "s"},
        },
        "rules": [{"id": "spo2-low", "type": "sustained", "threshold": "spo2_low", "hysteresis": 2,
                   "duration_seconds": 15, "enter": 90}],
    }  # fmt: skip
    with pytest.raises(DataFileError) as exc:
        parse_ruleset(doc)
    assert str(exc.value) == "rules[0].enter: comes from the threshold table row 'spo2_low'; remove it"
    doc["rules"] = [{"id": "x", "type": "threshold", "threshold": "nope", "hysteresis": 1}]
    with pytest.raises(DataFileError) as exc:
        parse_ruleset(doc)
    assert str(exc.value).startswith("rules[0].threshold: unknown threshold 'nope'")


@pytest.mark.parametrize(
    ("vital", "value", "rule_ids"),
    [
        ("systolic", 185, ["sbp-high"]),
        ("systolic", 170, ["sbp-high-warn"]),
        ("spo2", 91, ["spo2-low"]),
        ("spo2", 93, ["spo2-borderline"]),
        ("respiratory_rate", 7, ["rr-low"]),
        ("respiratory_rate", 9, ["rr-low-warn"]),
    ],
)
def test_the_stream_raises_one_alert_per_vital_like_the_flowsheet(
    vital: str, value: float, rule_ids: list[str]
) -> None:
    monitor = SessionMonitor("s1", session_ruleset())
    fired = [
        ev.rule_id
        for s in range(121)
        for ev in monitor.evaluate_value(VITAL_METRICS[vital], value, T0 + timedelta(seconds=s))
        if ev.kind is EventKind.FIRED
    ]
    assert fired == rule_ids
