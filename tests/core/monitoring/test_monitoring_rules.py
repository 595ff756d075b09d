"""Rule-set and metric data files: the packaged files load; malformed ones fail naming the field."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from ketaclinic.core.monitoring import (
    DataFileError,
    RuleType,
    Severity,
    load_catalog,
    load_default_ruleset,
    parse_catalog,
    parse_ruleset,
)


def _doc(name: str) -> Any:
    return yaml.safe_load(
        resources.files("ketaclinic.core.monitoring").joinpath(f"data/{name}").read_text("utf-8")
    )


def test_packaged_catalog() -> None:
    cat = load_catalog()
    assert cat.version == "1.0.0"
    assert {c: m.key for c, m in cat.by_code.items()} == {
        "8480-6": "sbp",
        "8462-4": "dbp",
        "8867-4": "hr",
        "59408-5": "spo2",
        "2708-6": "spo2",
        "9279-1": "rr",
        "8310-5": "temp",
    }
    assert {k: m.unit for k, m in cat.by_key.items()} == {
        "sbp": "mm[Hg]", "dbp": "mm[Hg]", "hr": "/min", "spo2": "%", "rr": "/min", "temp": "Cel",
    }  # fmt: skip


def test_packaged_ruleset_every_rule_has_a_source() -> None:
    rs = load_default_ruleset()
    assert rs.id == "ketamine-session-default"
    assert rs.version == "1.0.0"
    assert {r.type for r in rs.rules} == set(RuleType)
    assert all(r.source.strip() for r in rs.rules)
    assert rs.rule("sbp-high").enter == 180.0 and rs.rule("sbp-high").exit == 170.0
    assert rs.rule("spo2-low").duration_seconds == 15.0
    assert rs.escalation.due_after(Severity.CRITICAL) == 60.0
    assert rs.escalation.due_after(Severity.WARNING) == 180.0
    assert (rs.max_gap_seconds, rs.rearm_seconds, rs.clear_after_seconds) == (30.0, 60.0, 30.0)


def test_protocol_thresholds_override_enter_and_keep_the_gap() -> None:
    rs = load_default_ruleset().with_protocol_thresholds({"sbp_max": 160, "spo2_min": 90})
    assert (rs.rule("sbp-high").enter, rs.rule("sbp-high").exit) == (160.0, 150.0)
    assert (rs.rule("spo2-low").enter, rs.rule("spo2-low").exit) == (90.0, 92.0)
    assert load_default_ruleset().rule("sbp-high").enter == 180.0  # the default is untouched


def test_unknown_protocol_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown protocol thresholds: sbp_maximum"):
        load_default_ruleset().with_protocol_thresholds({"sbp_maximum": 160})


def _broken(path: list[str | int], value: object) -> dict[str, Any]:
    doc = copy.deepcopy(_doc("rules.yaml"))
    node = doc
    for p in path[:-1]:
        node = node[p]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["rules", 0, "type"], "spike", "rules[0].type: must be one of threshold, sustained, rate_of_change"),
        (["rules", 13, "metric"], "glucose", "rules[13].metric: unknown metric 'glucose'"),
        (["rules", 13, "exit"], 39, "rules[13].exit: must be on the normal side of enter"),
        (["rules", 13, "source"], KeyError, "rules[13].source: must be a non-empty string"),
        (["rules", 13, "severity"], "info", "rules[13].severity: must be warning or critical"),
        (["rules", 3, "exit_delta"], 45, "rules[3].exit_delta: must be >= 0 and below delta"),
        (["rules", 5, "duration_seconds"], 0, "rules[5].duration_seconds: must be greater than 0"),
        (["rules", 0, "hysteresis"], KeyError, "rules[0].hysteresis: must be a finite number"),
        (["rules", 0, "metric"], "sbp", "rules[0].metric: comes from the threshold table row 'sbp_high'"),
        (["rules", 1, "id"], "sbp-high", "rules: duplicate rule id(s) sbp-high"),
        (["escalation", "critical"], KeyError, "escalation.critical: required mapping"),
        (["max_gap_seconds"], "30", "max_gap_seconds: must be a finite number"),
    ],
)
def test_malformed_ruleset_fails_naming_the_field(path: list[str | int], value: object, message: str) -> None:
    with pytest.raises(DataFileError) as exc:
        parse_ruleset(_broken(path, value))
    assert str(exc.value).startswith(message)


def test_malformed_catalog_fails_naming_the_field() -> None:
    doc = copy.deepcopy(_doc("metrics.yaml"))
    doc["metrics"][1]["codes"] = ["8480-6"]
    with pytest.raises(DataFileError, match=r"metrics\[1\]\.codes: LOINC code '8480-6' listed twice"):
        parse_catalog(doc)
    doc = copy.deepcopy(_doc("metrics.yaml"))
    doc["metrics"][0]["plausible"]["min"] = 400
    with pytest.raises(DataFileError, match=r"metrics\[0\]\.plausible: min must be below max"):
        parse_catalog(doc)
