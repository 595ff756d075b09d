"""Safety event definitions for cohort reporting (data/safety.yaml) and their rate per 100 sessions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ketaclinic.core.instruments.definitions import DefinitionError
from ketaclinic.core.outcomes.stats import wilson_interval


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    id: str
    label: str
    session_alert_codes: tuple[str, ...]
    side_effect_codes: tuple[str, ...]
    requires_intervention: bool
    early_termination: bool
    source: str


@dataclass(frozen=True, slots=True)
class SafetyRate:
    """Sessions with the event among dosed sessions, per 100 sessions, with a Wilson 95 % interval (per 100)."""

    event: SafetyEvent
    sessions_with_event: int
    sessions: int

    @property
    def per_100(self) -> float | None:
        return None if self.sessions == 0 else 100 * self.sessions_with_event / self.sessions

    @property
    def ci95_per_100(self) -> tuple[float, float] | None:
        ci = wilson_interval(self.sessions_with_event, self.sessions)
        return None if ci is None else (100 * ci[0], 100 * ci[1])


def _codes(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(c, str) and c for c in v):
        raise DefinitionError(f"{where}: must be a list of codes")
    return tuple(v)


def parse_safety_events(raw: Any, filename: str = "safety.yaml") -> tuple[SafetyEvent, ...]:
    """Validate the safety-event document; DefinitionError names the key."""
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        raise DefinitionError(f"{filename}.events: must be a list")
    out: list[SafetyEvent] = []
    seen: set[str] = set()
    for i, e in enumerate(raw["events"]):
        w = f"{filename}.events[{i}]"
        if not isinstance(e, dict):
            raise DefinitionError(f"{w}: must be a mapping")
        for key in ("id", "label", "source"):
            if not isinstance(e.get(key), str) or not e[key]:
                raise DefinitionError(f"{w}.{key}: required")
        if e["id"] in seen:
            raise DefinitionError(f"{w}.id: duplicate {e['id']!r}")
        seen.add(e["id"])
        ev = SafetyEvent(
            id=e["id"],
            label=e["label"],
            session_alert_codes=_codes(e.get("session_alert_codes"), f"{w}.session_alert_codes"),
            side_effect_codes=_codes(e.get("side_effect_codes"), f"{w}.side_effect_codes"),
            requires_intervention=bool(e.get("requires_intervention", False)),
            early_termination=bool(e.get("early_termination", False)),
            source=e["source"],
        )
        if not (ev.session_alert_codes or ev.side_effect_codes or ev.early_termination):
            raise DefinitionError(f"{w}: names no alert code, side-effect code or early termination")
        out.append(ev)
    return tuple(out)


@cache
def safety_events() -> tuple[SafetyEvent, ...]:
    """The packaged safety-event definitions, cached."""
    text = resources.files("ketaclinic.core.outcomes").joinpath("data", "safety.yaml").read_text("utf-8")
    return parse_safety_events(yaml.safe_load(text))
