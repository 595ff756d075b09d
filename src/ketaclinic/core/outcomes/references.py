"""Published response rates to draw beside a clinic's own as labelled reference lines (never as a claim).

Data: `core/outcomes/data/reference_lines.yaml`, each line with its rate, the routes it concerns and its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ketaclinic.core.instruments.definitions import DefinitionError
from ketaclinic.core.yamlfile import load_yaml

ROUTES = frozenset({"iv", "im", "intranasal", "oral", "sublingual"})


@dataclass(frozen=True, slots=True)
class ReferenceLine:
    id: str
    label: str
    short: str
    rate: float
    routes: frozenset[str]
    source: str


@dataclass(frozen=True, slots=True)
class ReferenceSet:
    version: str
    lines: tuple[ReferenceLine, ...]

    def for_route(self, route: str) -> tuple[ReferenceLine, ...]:
        """The lines concerning a route filter ('' = every route)."""
        return tuple(r for r in self.lines if not route or route in r.routes)


def _line(raw: Any, i: int) -> ReferenceLine:
    w = f"reference_lines.yaml.lines[{i}]"
    if not isinstance(raw, dict):
        raise DefinitionError(f"{w}: must be a mapping")
    for key in ("id", "label", "short", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise DefinitionError(f"{w}.{key}: required text")
    rate = raw.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise DefinitionError(f"{w}.rate: must be a share between 0 and 1")
    routes = raw.get("routes")
    if not isinstance(routes, list) or not routes or any(r not in ROUTES for r in routes):
        raise DefinitionError(f"{w}.routes: must list routes among {', '.join(sorted(ROUTES))}")
    return ReferenceLine(
        id=raw["id"],
        label=raw["label"],
        short=raw["short"],
        rate=float(rate),
        routes=frozenset(routes),
        source=" ".join(raw["source"].split()),
    )


def parse_reference_lines(raw: Any) -> ReferenceSet:
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), str):
        raise DefinitionError("reference_lines.yaml.version: required")
    lines = raw.get("lines")
    if not isinstance(lines, list):
        raise DefinitionError("reference_lines.yaml.lines: must be a list")
    return ReferenceSet(version=raw["version"], lines=tuple(_line(x, i) for i, x in enumerate(lines)))


@cache
def reference_lines() -> ReferenceSet:
    text = (
        resources.files("ketaclinic.core.outcomes")
        .joinpath("data", "reference_lines.yaml")
        .read_text("utf-8")
    )
    return parse_reference_lines(load_yaml(text))
