"""Dosing regimens for PK simulation: immutable patient/dose/regimen records, parsing and validation naming the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.pk.model import ROUTES, Model
from ketaclinic.core.yamlfile import load_yaml

__all__ = [
    "Dose",
    "Limits",
    "Patient",
    "Regimen",
    "RegimenError",
    "device_count",
    "limits",
    "parse_regimen",
    "validate_regimen",
]


class RegimenError(CoreValidationError):
    """Bad input: ``field`` is the JSON path of the offending item (e.g. ``doses[1].amount_mg``)."""


@dataclass(frozen=True, slots=True)
class Patient:
    """Covariates: weight (kg), optional age (years), sex and flags (e.g. ``asian``) used by some models."""

    weight_kg: float
    age: float | None = None
    sex: str | None = None
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Dose:
    """One administration: ``amount_mg`` of ``drug`` by ``route`` at ``start_min``; IV over ``duration_min`` if given."""

    drug: str
    route: str
    amount_mg: float
    start_min: float
    duration_min: float | None = None


@dataclass(frozen=True, slots=True)
class Regimen:
    """A patient and their doses."""

    patient: Patient
    doses: tuple[Dose, ...]


@dataclass(frozen=True, slots=True)
class Limits:
    """Plausibility and size limits (data/limits.yaml)."""

    weight_min: float
    weight_max: float
    age_min: float
    age_max: float
    max_times: int
    max_doses: int
    max_population: int
    max_time_min: float


@cache
def limits() -> Limits:
    """Load and validate data/limits.yaml."""
    text = (resources.files("ketaclinic.core.pk") / "data" / "limits.yaml").read_text(encoding="utf-8")
    raw = load_yaml(text)
    try:
        out = Limits(
            weight_min=float(raw["weight_kg"]["min"]),
            weight_max=float(raw["weight_kg"]["max"]),
            age_min=float(raw["age_years"]["min"]),
            age_max=float(raw["age_years"]["max"]),
            max_times=int(raw["max_times"]),
            max_doses=int(raw["max_doses"]),
            max_population=int(raw["max_population"]),
            max_time_min=float(raw["max_time_min"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"limits.yaml: malformed ({exc})") from exc
    if not (0 < out.weight_min < out.weight_max and out.max_times > 0 and out.max_population > 0):
        raise ValueError("limits.yaml: inconsistent bounds")
    return out


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RegimenError(field, "must be a finite number")
    return float(value)


def parse_regimen(data: Any) -> tuple[Regimen, tuple[float, ...]]:
    """Parse the REGIMEN JSON of docs/cli.md into a regimen and its observation times.

    Checks shapes and types only; :func:`validate_regimen` checks the regimen against a model. Raises
    :class:`RegimenError` naming the field.
    """
    if not isinstance(data, Mapping):
        raise RegimenError("regimen", "must be a JSON object")
    lim = limits()
    p = data.get("patient")
    if not isinstance(p, Mapping):
        raise RegimenError("patient", "required, must be an object")
    if "weight_kg" not in p:
        raise RegimenError("patient.weight_kg", "required")
    weight = _number(p["weight_kg"], "patient.weight_kg")
    if not lim.weight_min <= weight <= lim.weight_max:
        raise RegimenError(
            "patient.weight_kg",
            f"{weight:g} kg is implausible (must be {lim.weight_min:g}-{lim.weight_max:g} kg)",
        )
    age: float | None = None
    if p.get("age") is not None:
        age = _number(p["age"], "patient.age")
        if not lim.age_min <= age <= lim.age_max:
            raise RegimenError("patient.age", f"must be {lim.age_min:g}-{lim.age_max:g} years")
    sex = p.get("sex")
    if sex is not None and sex not in ("male", "female", "other", "unknown"):
        raise RegimenError("patient.sex", "must be male, female, other or unknown")
    flags_raw = p.get("flags", [])
    if not isinstance(flags_raw, list) or not all(isinstance(f, str) for f in flags_raw):
        raise RegimenError("patient.flags", "must be a list of strings")
    patient = Patient(weight, age, sex, frozenset(flags_raw))

    doses_raw = data.get("doses")
    if not isinstance(doses_raw, list) or not doses_raw:
        raise RegimenError("doses", "required, must be a non-empty list")
    if len(doses_raw) > lim.max_doses:
        raise RegimenError("doses", f"at most {lim.max_doses} doses")
    doses: list[Dose] = []
    for i, d in enumerate(doses_raw):
        f = f"doses[{i}]"
        if not isinstance(d, Mapping):
            raise RegimenError(f, "must be an object")
        for key in ("drug", "route", "amount_mg", "start_min"):
            if key not in d:
                raise RegimenError(f"{f}.{key}", "required")
        drug, route = d["drug"], d["route"]
        if not isinstance(drug, str) or drug not in ("ketamine", "esketamine"):
            raise RegimenError(f"{f}.drug", "must be ketamine or esketamine")
        if not isinstance(route, str) or route not in ROUTES:
            raise RegimenError(f"{f}.route", f"must be one of {', '.join(sorted(ROUTES))}")
        amount = _number(d["amount_mg"], f"{f}.amount_mg")
        if amount <= 0:
            raise RegimenError(f"{f}.amount_mg", "must be > 0")
        start = _number(d["start_min"], f"{f}.start_min")
        if start < 0 or start > lim.max_time_min:
            raise RegimenError(f"{f}.start_min", f"must be between 0 and {lim.max_time_min:g} min")
        duration: float | None = None
        if d.get("duration_min") is not None:
            duration = _number(d["duration_min"], f"{f}.duration_min")
            if duration <= 0:
                raise RegimenError(f"{f}.duration_min", "must be > 0 (omit it for a bolus)")
            if route != "iv":
                raise RegimenError(f"{f}.duration_min", "only an iv dose can be given over a duration")
        doses.append(Dose(drug, route, amount, start, duration))

    times_raw = data.get("times_min")
    if not isinstance(times_raw, list) or not times_raw:
        raise RegimenError("times_min", "required, must be a non-empty list")
    if len(times_raw) > lim.max_times:
        raise RegimenError("times_min", f"at most {lim.max_times} times")
    times = tuple(_number(t, f"times_min[{k}]") for k, t in enumerate(times_raw))
    for k, t in enumerate(times):
        if t < 0:
            raise RegimenError(f"times_min[{k}]", "must be >= 0")
        if t > lim.max_time_min:
            raise RegimenError(f"times_min[{k}]", f"must be <= {lim.max_time_min:g} min")
        if k and t < times[k - 1]:
            raise RegimenError(f"times_min[{k}]", "times must be sorted ascending")
    return Regimen(patient, tuple(doses)), times


def device_count(model: Model, dose: Dose) -> int:
    """Number of devices a dose needs on a device route (e.g. 84 mg intranasal esketamine = 3 x 28 mg), else 1."""
    route = model.routes[dose.route]
    if route.device is None:
        return 1
    n = round(dose.amount_mg / route.device.amount_mg)
    return int(n)


def validate_regimen(regimen: Regimen, model: Model, *, dose_field: str = "doses") -> None:
    """Check a regimen against a model: drug and route supported, device multiples; raise :class:`RegimenError`."""
    for i, d in enumerate(regimen.doses):
        f = f"{dose_field}[{i}]"
        if d.drug != model.drug:
            raise RegimenError(f"{f}.drug", f"model {model.id} simulates {model.drug}, not {d.drug}")
        if d.route not in model.routes:
            raise RegimenError(
                f"{f}.route",
                f"model {model.id} has no {d.route} route (has: {', '.join(sorted(model.routes))})",
            )
        route = model.routes[d.route]
        if route.device is not None:
            n = d.amount_mg / route.device.amount_mg
            if n < 1 or abs(n - round(n)) > 1e-9:
                raise RegimenError(
                    f"{f}.amount_mg",
                    f"{d.route} {model.drug} is given in {route.device.amount_mg:g} mg devices; "
                    f"{d.amount_mg:g} mg is not a whole number of devices",
                )
    unknown = sorted(regimen.patient.flags - set(model.flags))
    if unknown:
        raise RegimenError("patient.flags", f"model {model.id} does not use flag(s) {', '.join(unknown)}")
