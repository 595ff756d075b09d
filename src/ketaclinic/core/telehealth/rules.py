"""Telehealth rule data: jurisdictions, the rule and flexibility model, and loading the packaged, sourced rules file."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any, Literal, cast

import yaml

Level = Literal["block", "review", "info"]
Decision = Literal["allowed", "needs_review", "not_allowed"]
Modality = Literal["in_person", "video", "telephone"]
Activity = Literal["evaluation", "prescribe", "administer", "follow_up", "therapy"]
Drug = Literal["ketamine", "esketamine"]

LEVELS: tuple[Level, ...] = ("block", "review", "info")
MODALITIES: tuple[Modality, ...] = ("in_person", "video", "telephone")
REMOTE_MODALITIES: tuple[Modality, ...] = ("video", "telephone")
ACTIVITIES: tuple[Activity, ...] = ("evaluation", "prescribe", "administer", "follow_up", "therapy")
DRUGS: tuple[Drug, ...] = ("ketamine", "esketamine")
KINDS = frozenset(
    {
        "in_person_only",
        "in_person_evaluation",
        "licensure",
        "records_access",
        "consent",
        "modality_notice",
        "notice",
    }
)
#: Activities a clinic's "in-person evaluation before the first dose" window applies to.
DOSING_ACTIVITIES: frozenset[Activity] = frozenset({"prescribe", "administer"})

_AU_STATES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
_JURISDICTION = re.compile(r"^(US-[A-Z]{2}|UK|AU-(" + "|".join(_AU_STATES) + r"))$")
_PATTERN = re.compile(r"^(US-\*|AU-\*|US-[A-Z]{2}|UK|AU-(" + "|".join(_AU_STATES) + r"))$")

MODALITY_LABELS: dict[Modality, str] = {"in_person": "in person", "video": "video", "telephone": "telephone"}


class RuleSetError(ValueError):
    """The telehealth rule data is malformed (names the rule and field)."""


def is_jurisdiction(code: str) -> bool:
    """A US state ("US-CA"), "UK", or an Australian state or territory ("AU-NSW")."""
    return bool(_JURISDICTION.match(code))


def country_of(jurisdiction: str) -> str:
    """ "US", "UK" or "AU"."""
    return jurisdiction.split("-", 1)[0]


def matches(pattern: str, jurisdiction: str) -> bool:
    """Whether `jurisdiction` is within `pattern` ("US-*" is every US state)."""
    if pattern.endswith("-*"):
        return country_of(jurisdiction) == pattern[:-2]
    return pattern == jurisdiction


@dataclass(frozen=True, slots=True)
class Flexibility:
    """A dated exception to an in-person-evaluation rule (e.g. the DEA telemedicine flexibilities)."""

    code: str
    message: str
    source: str
    start: date
    until: date
    modalities: tuple[Modality, ...]

    def covers(self, on: date, modality: Modality) -> bool:
        return self.start <= on <= self.until and modality in self.modalities


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Level
    kind: str
    jurisdictions: tuple[str, ...]
    message: str
    source: str
    activities: tuple[Activity, ...] = ()
    drugs: tuple[Drug, ...] = ()
    modalities: tuple[Modality, ...] = ()
    scope: str = ""
    unknown_level: Level | None = None
    flexibility: Flexibility | None = None

    def applies_to(self, jurisdiction: str) -> bool:
        return any(matches(p, jurisdiction) for p in self.jurisdictions)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]

    def rule(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)


# ------------------------------------------------------------------------------------------ rule data


def _level(raw: Mapping[str, Any], where: str) -> Level:
    """The rule's level, one of LEVELS (RuleSetError naming the field otherwise)."""
    level = _str(raw, "level", where)
    for known in LEVELS:
        if level == known:
            return known
    raise RuleSetError(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise RuleSetError(f"{where}.{key}: required non-empty string")
    return v.strip()


def _choices(raw: Mapping[str, Any], key: str, where: str, allowed: Sequence[str]) -> tuple[Any, ...]:
    v = raw.get(key, [])
    if not isinstance(v, list) or any(x not in allowed for x in v):
        raise RuleSetError(f"{where}.{key}: must be a list of {', '.join(allowed)}")
    return tuple(v)


def _date(raw: Mapping[str, Any], key: str, where: str) -> date:
    v = raw.get(key)
    if isinstance(v, date):  # YAML loads an unquoted date as a date
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise RuleSetError(f"{where}.{key}: required date YYYY-MM-DD")


def parse_rules(data: object, *, name: str = "rules") -> RuleSet:
    """Validate rule data (as loaded from YAML) and build a RuleSet; raise RuleSetError naming the field."""
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
        code = _str(raw, "code", where)
        where = f"{name}: rules[{i}] ({code})"
        if code in seen:
            raise RuleSetError(f"{where}.code: duplicate")
        seen.add(code)
        level = _level(raw, where)
        kind = _str(raw, "kind", where)
        if kind not in KINDS:
            raise RuleSetError(f"{where}.kind: {kind!r} is not a known rule kind")
        pats = raw.get("jurisdictions")
        if (
            not isinstance(pats, list)
            or not pats
            or any(not isinstance(p, str) or not _PATTERN.match(p) for p in pats)
        ):
            raise RuleSetError(f"{where}.jurisdictions: required list of US-*, AU-*, UK or one jurisdiction")
        activities = _choices(raw, "activities", where, ACTIVITIES)
        if kind in ("in_person_only", "in_person_evaluation", "records_access", "notice") and not activities:
            raise RuleSetError(f"{where}.activities: required for kind {kind}")
        modalities = _choices(raw, "modalities", where, REMOTE_MODALITIES)
        if kind == "modality_notice" and not modalities:
            raise RuleSetError(f"{where}.modalities: required for kind {kind}")
        scope = raw.get("scope", "")
        if kind == "licensure" and scope not in ("state", "country"):
            raise RuleSetError(f"{where}.scope: must be state or country for kind licensure")
        unknown = raw.get("unknown_level")
        if kind in ("licensure", "records_access") and unknown not in LEVELS:
            raise RuleSetError(f"{where}.unknown_level: required, one of {', '.join(LEVELS)}")
        flex: Flexibility | None = None
        if "flexibility" in raw:
            fr = raw["flexibility"]
            fw = f"{where}.flexibility"
            if kind != "in_person_evaluation" or not isinstance(fr, dict):
                raise RuleSetError(f"{fw}: a mapping, only for kind in_person_evaluation")
            start, until = _date(fr, "from", fw), _date(fr, "until", fw)
            if until < start:
                raise RuleSetError(f"{fw}.until: before from")
            fmods = _choices(fr, "modalities", fw, REMOTE_MODALITIES)
            if not fmods:
                raise RuleSetError(f"{fw}.modalities: required")
            flex = Flexibility(
                code=_str(fr, "code", fw),
                message=_str(fr, "message", fw),
                source=_str(fr, "source", fw),
                start=start,
                until=until,
                modalities=fmods,
            )
        rules.append(
            Rule(
                code=code,
                level=level,
                kind=kind,
                jurisdictions=tuple(pats),
                message=_str(raw, "message", where),
                source=_str(raw, "source", where),
                activities=activities,
                drugs=_choices(raw, "drugs", where, DRUGS),
                modalities=modalities,
                scope=scope,
                unknown_level=cast("Level | None", unknown),
                flexibility=flex,
            )
        )
    return RuleSet(version=version.strip(), rules=tuple(rules))


@functools.cache
def load_rules() -> RuleSet:
    """The packaged rules (telehealth/data/rules.yaml), validated and cached."""
    text = (
        resources.files("ketaclinic.core.telehealth")
        .joinpath("data", "rules.yaml")
        .read_text(encoding="utf-8")
    )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"rules.yaml: not valid YAML: {exc}") from exc
    return parse_rules(data, name="rules.yaml")
