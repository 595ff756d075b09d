"""Vital-sign metric catalogue (LOINC code, UCUM units, plausibility range) loaded from data/metrics.yaml."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ketaclinic.core.yamlfile import load_yaml


class DataFileError(ValueError):
    """A packaged or supplied monitoring data file is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class UnitConversion:
    """canonical = (value + offset) * factor."""

    factor: float
    offset: float = 0.0

    def to_canonical(self, value: float) -> float:
        return (value + self.offset) * self.factor


@dataclass(frozen=True, slots=True)
class Metric:
    """One vital sign: stable key, LOINC codes that mean it, canonical UCUM unit, accepted units, range."""

    key: str
    label: str
    name: str
    codes: tuple[str, ...]
    unit: str
    units: Mapping[str, UnitConversion]
    plausible_min: float
    plausible_max: float
    plausible_source: str

    @property
    def code(self) -> str:
        """The preferred LOINC code (first listed)."""
        return self.codes[0]


@dataclass(frozen=True, slots=True)
class MetricCatalog:
    version: str
    source: str
    metrics: tuple[Metric, ...]
    by_code: Mapping[str, Metric]
    by_key: Mapping[str, Metric]

    def metric_for_code(self, code: str) -> Metric | None:
        return self.by_code.get(code)


def _num(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(float(raw)):
        raise DataFileError(f"{where}: must be a finite number, got {raw!r}")
    return float(raw)


def _str(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise DataFileError(f"{where}: must be a non-empty string")
    return raw


def parse_catalog(doc: Any) -> MetricCatalog:
    """Validate a metrics document (already parsed YAML) and build the catalogue; raises DataFileError."""
    if not isinstance(doc, dict):
        raise DataFileError("metrics: top level must be a mapping")
    version = _str(doc.get("version"), "version")
    source = _str(doc.get("source"), "source")
    raw_metrics = doc.get("metrics")
    if not isinstance(raw_metrics, list) or not raw_metrics:
        raise DataFileError("metrics: must be a non-empty list")
    metrics: list[Metric] = []
    by_code: dict[str, Metric] = {}
    by_key: dict[str, Metric] = {}
    for i, m in enumerate(raw_metrics):
        where = f"metrics[{i}]"
        if not isinstance(m, dict):
            raise DataFileError(f"{where}: must be a mapping")
        key = _str(m.get("key"), f"{where}.key")
        codes_raw = m.get("codes")
        if not isinstance(codes_raw, list) or not codes_raw:
            raise DataFileError(f"{where}.codes: must be a non-empty list of LOINC codes")
        codes = tuple(_str(c, f"{where}.codes") for c in codes_raw)
        unit = _str(m.get("unit"), f"{where}.unit")
        units_raw = m.get("units")
        if not isinstance(units_raw, dict) or unit not in units_raw:
            raise DataFileError(f"{where}.units: must be a mapping that includes the canonical unit {unit!r}")
        units: dict[str, UnitConversion] = {}
        for u, conv in units_raw.items():
            if not isinstance(conv, dict):
                raise DataFileError(f"{where}.units.{u}: must be a mapping with factor")
            units[_str(u, f"{where}.units")] = UnitConversion(
                factor=_num(conv.get("factor"), f"{where}.units.{u}.factor"),
                offset=_num(conv.get("offset", 0.0), f"{where}.units.{u}.offset"),
            )
        pl = m.get("plausible")
        if not isinstance(pl, dict):
            raise DataFileError(f"{where}.plausible: must be a mapping with min, max, source")
        lo = _num(pl.get("min"), f"{where}.plausible.min")
        hi = _num(pl.get("max"), f"{where}.plausible.max")
        if lo >= hi:
            raise DataFileError(f"{where}.plausible: min must be below max")
        metric = Metric(
            key=key,
            label=_str(m.get("label"), f"{where}.label"),
            name=_str(m.get("name"), f"{where}.name"),
            codes=codes,
            unit=unit,
            units=units,
            plausible_min=lo,
            plausible_max=hi,
            plausible_source=_str(pl.get("source"), f"{where}.plausible.source"),
        )
        if key in by_key:
            raise DataFileError(f"{where}.key: duplicate metric key {key!r}")
        by_key[key] = metric
        for c in codes:
            if c in by_code:
                raise DataFileError(f"{where}.codes: LOINC code {c!r} listed twice")
            by_code[c] = metric
        metrics.append(metric)
    return MetricCatalog(
        version=version, source=source, metrics=tuple(metrics), by_code=by_code, by_key=by_key
    )


@functools.cache
def load_catalog() -> MetricCatalog:
    """The packaged metric catalogue (cached)."""
    text = resources.files("ketaclinic.core.monitoring").joinpath("data/metrics.yaml").read_text("utf-8")
    return parse_catalog(load_yaml(text))
