"""The dose-check request: doses, patient facts, and parsing of the contract's REQUEST object."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.protocols.model import DRUGS, ROUTES, Drug


class DoseRequestError(CoreValidationError):
    """Bad dose-check input; `field` names the offending field (e.g. `history[2].time`)."""


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose, given or proposed. `time` is timezone-aware; `duration_min` is the infusion length."""

    time: datetime
    drug: Drug
    route: str
    dose_mg: float
    duration_min: float | None = None
    ordered_mg: float | None = None


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the guard knows of the patient: today's weight, and optionally the birth date and the weight
    recorded before this one with its date (to catch a weight that moved implausibly, e.g. lb typed as kg)."""

    weight_kg: float
    birth_date: date | None = None
    previous_weight_kg: float | None = None
    previous_weight_date: date | None = None


@dataclass(frozen=True, slots=True)
class DoseRequest:
    patient: PatientFacts
    protocol_id: str
    history: tuple[Dose, ...]
    proposed: Dose


def _num(v: Any, field: str, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise DoseRequestError(field, "must be a number")
    if positive and float(v) <= 0:
        raise DoseRequestError(field, "must be greater than 0")
    return float(v)


def _time(v: Any, field: str) -> datetime:
    if not isinstance(v, str):
        raise DoseRequestError(field, "must be an ISO-8601 date-time string")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise DoseRequestError(field, f"is not an ISO-8601 date-time: {v!r}") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise DoseRequestError(field, "must include a timezone offset (e.g. Z or +01:00)")
    return t


def _date(v: Any, field: str) -> date:
    if not isinstance(v, str):
        raise DoseRequestError(field, "must be a YYYY-MM-DD string")
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise DoseRequestError(field, f"is not a YYYY-MM-DD date: {v!r}") from None


def parse_dose(v: Any, field: str) -> Dose:
    """Parse one DOSE object of the contract; errors name `field.<key>`."""
    if not isinstance(v, Mapping):
        raise DoseRequestError(field, "must be an object")
    for key in ("time", "drug", "route", "dose_mg"):
        if key not in v:
            raise DoseRequestError(f"{field}.{key}", "is required")
    drug = v["drug"]
    if drug not in DRUGS:
        raise DoseRequestError(f"{field}.drug", f"must be one of {', '.join(DRUGS)}")
    route = v["route"]
    if route not in ROUTES:
        raise DoseRequestError(f"{field}.route", f"must be one of {', '.join(ROUTES)}")
    duration = v.get("duration_min")
    ordered = v.get("ordered_mg")
    return Dose(
        time=_time(v["time"], f"{field}.time"),
        drug=drug,
        route=route,
        dose_mg=_num(v["dose_mg"], f"{field}.dose_mg"),
        duration_min=None if duration is None else _num(duration, f"{field}.duration_min"),
        ordered_mg=None if ordered is None else _num(ordered, f"{field}.ordered_mg"),
    )


def _patient(patient: Mapping[str, Any]) -> PatientFacts:
    if "weight_kg" not in patient:
        raise DoseRequestError("patient.weight_kg", "is required")
    # A zero/negative weight is a valid number but an implausible weight: the guard blocks it.
    weight = _num(patient["weight_kg"], "patient.weight_kg", positive=False)
    bd = patient.get("birth_date")
    birth = None if bd is None else _date(bd, "patient.birth_date")
    pw, pd = patient.get("previous_weight_kg"), patient.get("previous_weight_date")
    previous = None if pw is None else _num(pw, "patient.previous_weight_kg")
    previous_date = None if pd is None else _date(pd, "patient.previous_weight_date")
    if previous is not None and previous_date is None:
        raise DoseRequestError("patient.previous_weight_date", "is required with previous_weight_kg")
    if previous_date is not None and previous is None:
        raise DoseRequestError("patient.previous_weight_kg", "is required with previous_weight_date")
    return PatientFacts(
        weight_kg=weight, birth_date=birth, previous_weight_kg=previous, previous_weight_date=previous_date
    )


def parse_dose_request(data: Any) -> DoseRequest:
    """Parse the contract's REQUEST object; raises DoseRequestError naming the field."""
    if not isinstance(data, Mapping):
        raise DoseRequestError("request", "must be a JSON object")
    patient = data.get("patient")
    if not isinstance(patient, Mapping):
        raise DoseRequestError("patient", "is required and must be an object")
    facts = _patient(patient)
    protocol = data.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        raise DoseRequestError("protocol", "is required and must be a protocol id string")
    history = data.get("history", [])
    if history is None:
        history = []
    if not isinstance(history, Sequence) or isinstance(history, str):
        raise DoseRequestError("history", "must be a list of doses")
    if "proposed" not in data:
        raise DoseRequestError("proposed", "is required")
    return DoseRequest(
        patient=facts,
        protocol_id=protocol,
        history=tuple(parse_dose(h, f"history[{i}]") for i, h in enumerate(history)),
        proposed=parse_dose(data["proposed"], "proposed"),
    )
