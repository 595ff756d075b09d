"""The screening rule set: rule kinds, validation of the rule-set data, and loading the packaged rule set."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml

from ketaclinic.core.terminology import Terminology, load_terminology
from ketaclinic.core.yamlfile import load_yaml

Level = Literal["absolute", "relative", "caution"]
Route = Literal["iv", "intranasal", "im", "oral"]

LEVELS: tuple[Level, ...] = ("absolute", "relative", "caution")
ROUTES: tuple[Route, ...] = ("iv", "intranasal", "im", "oral")
KINDS = frozenset(
    {
        "condition",
        "allergy",
        "medication",
        "bp_threshold",
        "bp_missing",
        "weight_missing",
        "pregnancy",
        "age_under",
        "unreadable",
        "birth_date_missing",
    }
)
CONDITION_STATUSES = frozenset({"any", "active", "remission", "active_not_remission"})


class RuleSetError(ValueError):
    """The rule-set data is malformed (names the rule and field)."""


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Level
    kind: str
    message: str
    source: str
    status: str = "any"
    value_sets: tuple[str, ...] = ()
    remission_value_sets: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    #: condition kind: a condition whose text matches one of these (case-insensitive) also counts; for what
    #: no code names (e.g. ketamine-associated uropathy).
    text_patterns: tuple[re.Pattern[str], ...] = ()
    #: medication kind: conditions that raise the same finding (e.g. alcohol use disorder beside CNS
    #: depressant medicines), evaluated as a condition rule with its own value sets and status.
    also_conditions: Rule | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]

    def rule(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)


# ------------------------------------------------------------------------------------------ rule-set loading


def _params_int(rule_where: str, params: Mapping[str, Any], key: str) -> None:
    v = params.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise RuleSetError(f"{rule_where}.params.{key}: required non-negative integer")


_REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "bp_threshold": ("window_days", "systolic_at_least", "diastolic_at_least"),
    "bp_missing": ("window_days",),
    "weight_missing": ("window_days",),
    "medication": ("washout_days",),
    "age_under": ("years",),
    "pregnancy": ("status_window_days",),
}


def parse_ruleset(data: object, *, name: str = "ruleset", terminology: Terminology | None = None) -> RuleSet:
    """Validate rule-set data (as loaded from YAML) and build a RuleSet; raise RuleSetError naming the field."""
    terms = terminology or load_terminology()
    if not isinstance(data, dict):
        raise RuleSetError(f"{name}: top level must be a mapping")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RuleSetError(f"{name}: version: required string")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleSetError(f"{name}: rules: required non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        where = f"{name}: rules[{i}]"
        if not isinstance(raw, dict):
            raise RuleSetError(f"{where}: must be a mapping")
        for key in ("code", "level", "kind", "message", "source"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise RuleSetError(f"{where}.{key}: required non-empty string")
        code = raw["code"]
        where = f"{name}: rules[{i}] ({code})"
        if code in seen:
            raise RuleSetError(f"{where}.code: duplicate")
        seen.add(code)
        if raw["level"] not in LEVELS:
            raise RuleSetError(f"{where}.level: {raw['level']!r} is not one of {', '.join(LEVELS)}")
        if raw["kind"] not in KINDS:
            raise RuleSetError(f"{where}.kind: {raw['kind']!r} is not a known rule kind")
        status = raw.get("status", "any")
        if raw["kind"] == "condition" and status not in CONDITION_STATUSES:
            raise RuleSetError(f"{where}.status: {status!r} is not one of {sorted(CONDITION_STATUSES)}")
        vsets: dict[str, tuple[str, ...]] = {}
        for key in ("value_sets", "remission_value_sets"):
            vsets[key] = _refs(raw, key, where, terms)
        if raw["kind"] in ("condition", "allergy", "medication", "pregnancy") and not vsets["value_sets"]:
            raise RuleSetError(f"{where}.value_sets: required for kind {raw['kind']}")
        if status in ("remission", "active_not_remission") and not vsets["remission_value_sets"]:
            raise RuleSetError(f"{where}.remission_value_sets: required for status {status}")
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise RuleSetError(f"{where}.params: must be a mapping")
        for key in _REQUIRED_PARAMS.get(raw["kind"], ()):
            _params_int(where, params, key)
        if raw["kind"] == "weight_missing":
            routes = params.get("routes")
            if not isinstance(routes, list) or not routes or any(r not in ROUTES for r in routes):
                raise RuleSetError(f"{where}.params.routes: required list of routes from {', '.join(ROUTES)}")
        if "unless" in params and params["unless"] not in seen:
            raise RuleSetError(f"{where}.params.unless: {params['unless']!r} must name an earlier rule")
        patterns = _patterns(params.get("text_patterns", []), f"{where}.params.text_patterns")
        if patterns and raw["kind"] != "condition":
            raise RuleSetError(f"{where}.params.text_patterns: only for kind condition")
        also = raw.get("also_conditions")
        also_rule: Rule | None = None
        if also is not None:
            if raw["kind"] != "medication":
                raise RuleSetError(f"{where}.also_conditions: only for kind medication")
            also_rule = _also_conditions(also, raw, f"{where}.also_conditions", terms)
        rules.append(
            Rule(
                text_patterns=patterns,
                also_conditions=also_rule,
                code=code,
                level=raw["level"],
                kind=raw["kind"],
                message=raw["message"].strip(),
                source=raw["source"].strip(),
                status=status,
                value_sets=vsets["value_sets"],
                remission_value_sets=vsets["remission_value_sets"],
                params=dict(params),
            )
        )
    return RuleSet(version=version.strip(), rules=tuple(rules))


def _refs(raw: Mapping[str, Any], key: str, where: str, terms: Terminology) -> tuple[str, ...]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise RuleSetError(f"{where}.{key}: must be a list of value-set references")
    for ref in items:
        if not terms.has_value_set(ref):
            raise RuleSetError(f"{where}.{key}: unknown value set {ref!r}")
    return tuple(items)


def _patterns(items: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
        raise RuleSetError(f"{where}: must be a list of regular expressions")
    out = []
    for x in items:
        try:
            out.append(re.compile(x, re.IGNORECASE))
        except re.error as exc:
            raise RuleSetError(f"{where}: {x!r} is not a valid regular expression ({exc})") from None
    return tuple(out)


def _also_conditions(also: Any, raw: Mapping[str, Any], where: str, terms: Terminology) -> Rule:
    if not isinstance(also, dict):
        raise RuleSetError(f"{where}: must be a mapping")
    status = also.get("status", "active")
    if status not in CONDITION_STATUSES:
        raise RuleSetError(f"{where}.status: {status!r} is not one of {sorted(CONDITION_STATUSES)}")
    value_sets = _refs(also, "value_sets", where, terms)
    if not value_sets:
        raise RuleSetError(f"{where}.value_sets: required")
    remission = _refs(also, "remission_value_sets", where, terms)
    if status in ("remission", "active_not_remission") and not remission:
        raise RuleSetError(f"{where}.remission_value_sets: required for status {status}")
    return Rule(
        code=raw["code"],
        level=raw["level"],
        kind="condition",
        message=raw["message"].strip(),
        source=raw["source"].strip(),
        status=status,
        value_sets=value_sets,
        remission_value_sets=remission,
    )


@functools.cache
def load_ruleset() -> RuleSet:
    """The packaged rule set (screening/data/ruleset.yaml), validated and cached."""
    text = (
        resources.files("ketaclinic.core.screening")
        .joinpath("data", "ruleset.yaml")
        .read_text(encoding="utf-8")
    )
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"ruleset.yaml: not valid YAML: {exc}") from exc
    return parse_ruleset(data, name="ruleset.yaml")
