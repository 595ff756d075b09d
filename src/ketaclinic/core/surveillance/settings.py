"""Surveillance settings: the shipped schedule and thresholds (data/schedule.yaml) and a clinic's overrides.

A clinic may change any number of the shipped defaults for its own protocol (intervals, the due window,
the liver-enzyme session, follow-up days, alert thresholds); it may not add or remove items, so the
finding codes stay those of the contract. Overrides are validated like the shipped file and every error
names its path (e.g. `items.bladder_screen.interval_days`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from ketaclinic.core.errors import CoreValidationError

ItemKind = Literal["assessment", "observation"]
FirstDue = Literal["first_dose", "session"]

#: Schedule item codes in report order; each yields `<code>_due` / `<code>_overdue` findings.
ITEM_CODES: tuple[str, ...] = (
    "bladder_screen",
    "urinalysis",
    "dependence_screen",
    "cognition_screen",
    "liver_enzymes",
)
FOLLOWUP_CODE = "withdrawal_followup"
#: Alert codes in report order.
ALERT_CODES: tuple[str, ...] = (
    "bladder_symptoms",
    "haematuria",
    "liver_enzymes_raised",
    "dependence_signal",
    "escalation_tolerance",
    "early_request",
)
_MAX_DAYS = 3650


class SettingsError(CoreValidationError):
    """Malformed schedule data or clinic overrides; `field` is the path of the offending key."""


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """One surveillance item: which results meet it and how often it falls due."""

    code: str
    label: str
    kind: ItemKind
    instruments: tuple[str, ...]
    loinc: tuple[str, ...]
    first_due: FirstDue
    first_due_session: int | None
    interval_days: int
    source: str


@dataclass(frozen=True, slots=True)
class FollowupPoint:
    """A follow-up `day` days after the course ends, met by a result from `met_from_day` after it on."""

    day: int
    met_from_day: int


@dataclass(frozen=True, slots=True)
class Followups:
    code: str
    label: str
    instruments: tuple[str, ...]
    points: tuple[FollowupPoint, ...]
    source: str


@dataclass(frozen=True, slots=True)
class AlertRule:
    """An alert threshold; only the fields its code uses are set."""

    code: str
    source: str
    instrument: str | None = None
    loinc: tuple[str, ...] = ()
    total_at_least: float | None = None
    times_upper_limit: float | None = None
    min_sessions: int | None = None
    window_sessions: int | None = None
    ratio_at_least: float | None = None
    min_interval_hours: float | None = None


@dataclass(frozen=True, slots=True)
class SurveillanceSettings:
    version: str
    on_treatment_days: int
    due_window_days: int
    items: tuple[ScheduleItem, ...]
    followups: Followups
    alerts: tuple[AlertRule, ...]
    overridden: tuple[str, ...] = ()

    def item(self, code: str) -> ScheduleItem:
        for it in self.items:
            if it.code == code:
                return it
        raise KeyError(code)

    def alert(self, code: str) -> AlertRule:
        for a in self.alerts:
            if a.code == code:
                return a
        raise KeyError(code)


# ---------------------------------------------------------------------------------------------- parsing


def _map(v: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise SettingsError(field, "must be an object")
    return v


def _text(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v.strip():
        raise SettingsError(f"{where}.{key}", "is required and must be non-empty text")
    return v.strip()


def _days(d: Mapping[str, Any], key: str, where: str, *, low: int = 1) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SettingsError(f"{where}.{key}" if where else key, "must be a whole number of days")
    if not low <= v <= _MAX_DAYS:
        raise SettingsError(f"{where}.{key}" if where else key, f"must be between {low} and {_MAX_DAYS}")
    return v


def _count(d: Mapping[str, Any], key: str, where: str, *, low: int, high: int) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SettingsError(f"{where}.{key}", "must be a whole number")
    if not low <= v <= high:
        raise SettingsError(f"{where}.{key}", f"must be between {low} and {high}")
    return v


def _positive(d: Mapping[str, Any], key: str, where: str, *, high: float) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise SettingsError(f"{where}.{key}", "must be a number")
    if not 0 < float(v) <= high:
        raise SettingsError(f"{where}.{key}", f"must be greater than 0 and at most {high:g}")
    return float(v)


def _codes(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = d.get(key)
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        raise SettingsError(f"{where}.{key}", "must be a non-empty list of codes")
    return tuple(v)


def _item(raw: Any, where: str) -> ScheduleItem:
    d = _map(raw, where)
    kind = d.get("kind")
    if kind not in ("assessment", "observation"):
        raise SettingsError(f"{where}.kind", "must be assessment or observation")
    first_due = d.get("first_due")
    if first_due not in ("first_dose", "session"):
        raise SettingsError(f"{where}.first_due", "must be first_dose or session")
    session = _count(d, "first_due_session", where, low=1, high=1000) if first_due == "session" else None
    return ScheduleItem(
        code=_text(d, "code", where),
        label=_text(d, "label", where),
        kind=kind,
        instruments=_codes(d, "instruments", where) if kind == "assessment" else (),
        loinc=_codes(d, "loinc", where) if kind == "observation" else (),
        first_due=first_due,
        first_due_session=session,
        interval_days=_days(d, "interval_days", where),
        source=_text(d, "source", where),
    )


def _followups(raw: Any) -> Followups:
    where = "followups"
    d = _map(raw, where)
    days = d.get("days")
    if not isinstance(days, list) or not days:
        raise SettingsError(f"{where}.days", "must be a non-empty list")
    points: list[FollowupPoint] = []
    for k, p in enumerate(days):
        pw = f"{where}.days[{k}]"
        pm = _map(p, pw)
        day = _days(pm, "day", pw)
        met_from = _days(pm, "met_from_day", pw, low=0)
        if met_from > day:
            raise SettingsError(f"{pw}.met_from_day", f"must not be after the follow-up day ({day})")
        if points and day <= points[-1].day:
            raise SettingsError(f"{pw}.day", "follow-up days must be in increasing order")
        points.append(FollowupPoint(day=day, met_from_day=met_from))
    code = _text(d, "code", where)
    if code != FOLLOWUP_CODE:
        raise SettingsError(f"{where}.code", f"must be {FOLLOWUP_CODE}")
    return Followups(
        code=code,
        label=_text(d, "label", where),
        instruments=_codes(d, "instruments", where),
        points=tuple(points),
        source=_text(d, "source", where),
    )


def _alerts(raw: Any) -> tuple[AlertRule, ...]:
    d = _map(raw, "alerts")
    extra = sorted(set(d) - set(ALERT_CODES))
    if extra:
        raise SettingsError(f"alerts.{extra[0]}", f"is not an alert; known: {', '.join(ALERT_CODES)}")
    out: list[AlertRule] = []
    for code in ALERT_CODES:
        w = f"alerts.{code}"
        a = _map(d.get(code), w)
        src = _text(a, "source", w)
        if code in ("bladder_symptoms", "dependence_signal"):
            out.append(
                AlertRule(
                    code=code,
                    source=src,
                    instrument=_text(a, "instrument", w),
                    total_at_least=_positive(a, "total_at_least", w, high=1000),
                )
            )
        elif code == "haematuria":
            out.append(AlertRule(code=code, source=src, loinc=_codes(a, "loinc", w)))
        elif code == "liver_enzymes_raised":
            out.append(
                AlertRule(
                    code=code,
                    source=src,
                    loinc=_codes(a, "loinc", w),
                    times_upper_limit=_positive(a, "times_upper_limit", w, high=100),
                )
            )
        elif code == "early_request":
            out.append(
                AlertRule(
                    code=code,
                    source=src,
                    min_interval_hours=_positive(a, "min_interval_hours", w, high=24 * 60),
                )
            )
        else:
            window = _count(a, "window_sessions", w, low=1, high=100)
            out.append(
                AlertRule(
                    code=code,
                    source=src,
                    min_sessions=_count(a, "min_sessions", w, low=2 * window, high=1000),
                    window_sessions=window,
                    ratio_at_least=_positive(a, "ratio_at_least", w, high=100),
                )
            )
    return tuple(out)


def parse_settings(raw: Any, *, overridden: tuple[str, ...] = ()) -> SurveillanceSettings:
    """Validate a schedule document (the shipped file, or it with a clinic's overrides applied)."""
    d = _map(raw, "schedule")
    items_raw = d.get("items")
    if not isinstance(items_raw, list):
        raise SettingsError("items", "must be a list")
    items = tuple(_item(it, f"items[{k}]") for k, it in enumerate(items_raw))
    if tuple(it.code for it in items) != ITEM_CODES:
        raise SettingsError("items", f"must be exactly {', '.join(ITEM_CODES)} in this order")
    version = d.get("version")
    if not isinstance(version, str) or not version:
        raise SettingsError("version", "is required")
    return SurveillanceSettings(
        version=version,
        on_treatment_days=_days(d, "on_treatment_days", ""),
        due_window_days=_days(d, "due_window_days", "", low=0),
        items=items,
        followups=_followups(d.get("followups")),
        alerts=_alerts(d.get("alerts")),
        overridden=overridden,
    )


@cache
def _default_raw() -> Mapping[str, Any]:
    text = (
        resources.files("ketaclinic.core.surveillance")
        .joinpath("data", "schedule.yaml")
        .read_text(encoding="utf-8")
    )
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise SettingsError("schedule", "the shipped schedule file must be a mapping")
    return raw


@cache
def default_settings() -> SurveillanceSettings:
    """The shipped defaults (cached)."""
    return parse_settings(copy.deepcopy(dict(_default_raw())))


# ---------------------------------------------------------------------------------------------- overrides

#: Keys a clinic may override, per section; any other key is refused by name.
_TOP_KEYS = ("on_treatment_days", "due_window_days")
_ITEM_KEYS = ("interval_days", "first_due_session")
_ALERT_KEYS = ("total_at_least", "times_upper_limit", "min_sessions", "window_sessions", "ratio_at_least")
_CLINIC_NOTE = "Clinic protocol override of the shipped default: {keys}. Shipped default's source: "


def apply_overrides(overrides: Any) -> SurveillanceSettings:
    """The shipped defaults with a clinic's `overrides` applied and validated.

    `overrides` is `{"on_treatment_days"?, "due_window_days"?, "items"?: {CODE: {"interval_days"?,
    "first_due_session"?}}, "followup_days"?: [{"day", "met_from_day"}...], "alerts"?: {CODE: {...}}}`.
    Each changed item or alert has its source prefixed with a note naming the changed keys.
    """
    ov = _map(overrides, "overrides")
    raw: dict[str, Any] = copy.deepcopy(dict(_default_raw()))
    changed: list[str] = []
    known = {*_TOP_KEYS, "items", "followup_days", "alerts"}
    for key in ov:
        if key not in known:
            raise SettingsError(key, f"cannot be overridden; known: {', '.join(sorted(known))}")
    for key in _TOP_KEYS:
        if key in ov:
            raw[key] = ov[key]
            changed.append(key)
    items_by_code = {it["code"]: it for it in raw["items"]}
    for code, patch in _map(ov.get("items", {}), "items").items():
        if code not in items_by_code:
            raise SettingsError(
                f"items.{code}", f"is not a surveillance item; known: {', '.join(ITEM_CODES)}"
            )
        target = items_by_code[code]
        keys = _patch(target, _map(patch, f"items.{code}"), _ITEM_KEYS, f"items.{code}")
        if "first_due_session" in keys and target.get("first_due") != "session":
            raise SettingsError(f"items.{code}.first_due_session", "this item falls due at the first dose")
        changed.extend(f"items.{code}.{k}" for k in keys)
    if "followup_days" in ov:
        raw["followups"]["days"] = ov["followup_days"]
        changed.append("followup_days")
        raw["followups"]["source"] = _CLINIC_NOTE.format(keys="follow-up days") + raw["followups"]["source"]
    for code, patch in _map(ov.get("alerts", {}), "alerts").items():
        if code not in ALERT_CODES:
            raise SettingsError(f"alerts.{code}", f"is not an alert; known: {', '.join(ALERT_CODES)}")
        target = raw["alerts"][code]
        allowed = tuple(k for k in _ALERT_KEYS if k in target)
        keys = _patch(target, _map(patch, f"alerts.{code}"), allowed, f"alerts.{code}")
        changed.extend(f"alerts.{code}.{k}" for k in keys)
    try:
        return parse_settings(raw, overridden=tuple(changed))
    except SettingsError as exc:
        raise SettingsError(_override_path(exc.field, raw), exc.reason) from None


def _patch(
    target: dict[str, Any], patch: Mapping[str, Any], allowed: tuple[str, ...], where: str
) -> list[str]:
    keys: list[str] = []
    for key, value in patch.items():
        if key not in allowed:
            raise SettingsError(f"{where}.{key}", f"cannot be overridden; allowed: {', '.join(allowed)}")
        target[key] = value
        keys.append(key)
    if keys:
        target["source"] = _CLINIC_NOTE.format(keys=", ".join(keys)) + str(target["source"])
    return keys


def _override_path(field: str, raw: Mapping[str, Any]) -> str:
    """Map a parse path (`items[0].interval_days`) back to the override's path (`items.bladder_screen...`)."""
    if field.startswith("items[") and "]" in field:
        k = int(field[len("items[") : field.index("]")])
        return f"items.{raw['items'][k]['code']}{field[field.index(']') + 1 :]}"
    if field.startswith("followups.days"):
        return "followup_days" + field[len("followups.days") :]
    return field
