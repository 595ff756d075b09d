"""Global dose-guard settings (data/guard.yaml): weight plausibility, order tolerance, escalation, age, weight change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from ketaclinic.core.protocols.model import (
    Level,
    ProtocolError,
    Sourced,
    _data_text,
    _get,
    _level,
    _mapping,
    _req,
)
from ketaclinic.core.yamlfile import load_yaml


@dataclass(frozen=True, slots=True)
class GuardSettings:
    weight_block_below: Sourced
    weight_block_above: Sourced
    weight_warn_below: Sourced
    weight_warn_above: Sourced
    order_tolerance_pct: Sourced
    order_over_level: Level
    order_under_level: Level
    consecutive_increases: Sourced
    shortening_intervals: Sourced
    shortening_ratio: Sourced
    escalation_level: Level
    esketamine_block_below_age: Sourced
    ketamine_warn_below_age: Sourced
    weight_change_percent: Sourced
    weight_change_within_days: Sourced


def _section(m: Any, section: str, key: str) -> Sourced:
    return _req(_get(_mapping(_get(m, section, ""), section), key, f"{section}."), f"{section}.{key}")


def parse_guard_settings(data: Any) -> GuardSettings:
    """Validate the global dose-guard settings mapping (data/guard.yaml)."""
    m = _mapping(data, "guard")
    w = _mapping(_get(m, "weight_kg", ""), "weight_kg")
    o = _mapping(_get(m, "order_tolerance", ""), "order_tolerance")
    e = _mapping(_get(m, "escalation", ""), "escalation")
    settings = GuardSettings(
        weight_block_below=_req(_get(w, "block_below", "weight_kg."), "weight_kg.block_below"),
        weight_block_above=_req(_get(w, "block_above", "weight_kg."), "weight_kg.block_above"),
        weight_warn_below=_req(_get(w, "warn_below", "weight_kg."), "weight_kg.warn_below"),
        weight_warn_above=_req(_get(w, "warn_above", "weight_kg."), "weight_kg.warn_above"),
        order_tolerance_pct=_req(
            _get(o, "percent", "order_tolerance."), "order_tolerance.percent", positive=False
        ),
        order_over_level=_level(_get(o, "over_level", "order_tolerance."), "order_tolerance.over_level"),
        order_under_level=_level(_get(o, "under_level", "order_tolerance."), "order_tolerance.under_level"),
        consecutive_increases=_req(
            _get(e, "consecutive_increases", "escalation."), "escalation.consecutive_increases"
        ),
        shortening_intervals=_req(
            _get(e, "shortening_intervals", "escalation."), "escalation.shortening_intervals"
        ),
        shortening_ratio=_req(_get(e, "shortening_ratio", "escalation."), "escalation.shortening_ratio"),
        escalation_level=_level(_get(e, "level", "escalation."), "escalation.level"),
        esketamine_block_below_age=_section(m, "age", "esketamine_block_below"),
        ketamine_warn_below_age=_section(m, "age", "ketamine_warn_below"),
        weight_change_percent=_section(m, "weight_change", "percent"),
        weight_change_within_days=_section(m, "weight_change", "within_days"),
    )
    if not (
        settings.weight_block_below.value
        <= settings.weight_warn_below.value
        < settings.weight_warn_above.value
        <= settings.weight_block_above.value
    ):
        raise ProtocolError("weight_kg", "needs block_below ≤ warn_below < warn_above ≤ block_above")
    return settings


@cache
def guard_settings() -> GuardSettings:
    """The packaged global guard settings (cached)."""
    return parse_guard_settings(load_yaml(_data_text("guard.yaml")))
