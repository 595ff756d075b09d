"""Validate one sensor reading (compact form or FHIR Observation) into a canonical Reading, or say exactly why not."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ketaclinic.core.monitoring.catalog import MetricCatalog, load_catalog

#: How far in the future (device clock ahead of server clock) a timestamp may be. [R] engineering default.
DEFAULT_MAX_FUTURE_SKEW = timedelta(seconds=5)
#: Readings older than this are refused (a device replaying a stale buffer into the wrong session). [R]
DEFAULT_MAX_AGE = timedelta(hours=24)

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: Observation.identifier system carrying the device's sequence number.
SEQ_IDENTIFIER_SYSTEM = "urn:ketaclinic:device-seq"
#: LOINC blood-pressure panel; its components carry SBP and DBP.
BP_PANEL_CODE = "85354-9"

_COMMON_UNIT_MISTAKES = {
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "bpm": "/min",
    "beats/min": "/min",
    "breaths/min": "/min",
    "c": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "f": "[degF]",
    "°f": "[degF]",
    "percent": "%",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a reading was refused: the field (compact-form name) and why."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Reading:
    """A validated reading in canonical units. `code` is the LOINC code as sent; `metric` the catalogue key."""

    device: str
    session: str
    metric: str
    code: str
    value: float
    unit: str
    time: datetime
    seq: int


def _text_id(raw: object) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw) if 0 <= raw < 2**63 else None
    if isinstance(raw, str) and raw.strip() and len(raw) <= 64 and raw.isprintable():
        return raw.strip()
    return None


def parse_time(raw: object) -> datetime | None:
    """An ISO 8601 instant with an explicit offset (or Z); None when naive or unparseable."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    try:
        t = datetime.fromisoformat(raw)
        if t.tzinfo is None or t.utcoffset() is None:
            return None
        t.astimezone(UTC)  # an offset that pushes the instant past year 9999 or before year 1
    except (ValueError, OverflowError):
        return None
    return t


def validate_compact(
    item: object,
    *,
    now: datetime,
    catalog: MetricCatalog | None = None,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
) -> Reading | list[FieldError]:
    """Validate `{device, session, metric, value, unit, time, seq}`; return a Reading or every field error.

    `metric` is a LOINC code from the catalogue; `unit` a UCUM code accepted for it (converted to the
    canonical unit, e.g. [degF] -> Cel); the value must be finite and inside the metric's plausibility range
    (checked after conversion); `time` must carry a UTC offset, be no more than `max_future_skew` ahead of
    `now` and no older than `max_age`; `seq` is the device's non-negative integer sequence number.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cat = catalog if catalog is not None else load_catalog()
    if not isinstance(item, Mapping):
        return [FieldError("reading", "must be a JSON object")]
    errors: list[FieldError] = []
    device = _text_id(item.get("device"))
    if device is None:
        errors.append(
            FieldError(
                "device",
                "required: the device identifier (printable string of at most 64 characters, or integer)",
            )
        )
    session = _text_id(item.get("session"))
    if session is None:
        errors.append(
            FieldError(
                "session",
                "required: the session identifier (printable string of at most 64 characters, or integer)",
            )
        )
    seq_raw = item.get("seq")
    seq = -1
    if isinstance(seq_raw, bool) or not isinstance(seq_raw, int) or seq_raw < 0 or seq_raw >= 2**63:
        errors.append(FieldError("seq", "required: the device sequence number, a non-negative integer"))
    else:
        seq = seq_raw
    code = item.get("metric")
    metric = cat.by_code.get(code) if isinstance(code, str) else None
    if metric is None:
        known = ", ".join(sorted(cat.by_code))
        errors.append(FieldError("metric", f"unknown LOINC code {code!r}; accepted: {known}"))
    value_raw = item.get("value")
    value: float | None = None
    if isinstance(value_raw, bool) or not isinstance(value_raw, int | float):
        errors.append(FieldError("value", "required: a number"))
    elif isinstance(value_raw, int) and abs(value_raw) > 10**15:
        errors.append(FieldError("value", "is too large"))
    elif not math.isfinite(value_raw):
        errors.append(FieldError("value", "must be a finite number"))
    else:
        value = float(value_raw)
    unit = item.get("unit")
    conv = None
    if metric is not None:
        conv = metric.units.get(unit) if isinstance(unit, str) else None
        if conv is None:
            accepted = ", ".join(metric.units)
            hint = _COMMON_UNIT_MISTAKES.get(unit.strip().lower()) if isinstance(unit, str) else None
            msg = f"unit {unit!r} is not a UCUM unit accepted for {metric.name}; accepted: {accepted}"
            if hint is not None:
                msg += f" (did you mean {hint!r}?)"
            errors.append(FieldError("unit", msg))
    time = parse_time(item.get("time"))
    if time is None:
        errors.append(
            FieldError("time", "required: an ISO 8601 instant with a UTC offset, e.g. 2025-01-01T10:00:00Z")
        )
    else:
        if time - now > max_future_skew:
            errors.append(
                FieldError(
                    "time", f"is in the future (more than {max_future_skew.total_seconds():g} s ahead)"
                )
            )
        elif max_age is not None and now - time > max_age:
            errors.append(FieldError("time", f"is older than {max_age.total_seconds() / 3600:g} h"))
    if metric is not None and conv is not None and value is not None:
        canonical = conv.to_canonical(value)
        if not (metric.plausible_min <= canonical <= metric.plausible_max):
            errors.append(
                FieldError(
                    "value",
                    f"{canonical:g} {metric.unit} is outside the plausible range for {metric.name} "
                    f"({metric.plausible_min:g}–{metric.plausible_max:g} {metric.unit})",
                )
            )
        value = canonical
    if errors:
        return errors
    assert metric is not None and value is not None and time is not None
    assert device is not None and session is not None and isinstance(code, str)
    return Reading(
        device=device,
        session=session,
        metric=metric.key,
        code=code,
        value=value,
        unit=metric.unit,
        time=time,
        seq=seq,
    )


def _ref_id(ref: object, resource_type: str) -> str | None:
    if isinstance(ref, Mapping):
        r = ref.get("reference")
        prefix = resource_type + "/"
        if isinstance(r, str) and r.startswith(prefix) and len(r) > len(prefix):
            return r[len(prefix) :]
    return None


def _loinc(code: object) -> str | None:
    if isinstance(code, Mapping):
        for c in code.get("coding") or []:
            if isinstance(c, Mapping) and c.get("system") == LOINC_SYSTEM and isinstance(c.get("code"), str):
                return str(c["code"])
    return None


def _quantity(q: object) -> tuple[Any, Any]:
    if not isinstance(q, Mapping):
        return None, None
    unit = q.get("code") if q.get("system") in (UCUM_SYSTEM, None) else None
    return q.get("value"), unit


def compact_from_observation(obs: object) -> list[dict[str, Any]] | list[FieldError]:
    """Map a FHIR R4 vital-sign Observation to compact readings (a BP panel gives two), or field errors.

    device = Observation.device (Device/<id>), session = Observation.encounter (Encounter/<session id>),
    seq = Observation.identifier with system urn:ketaclinic:device-seq, time = effectiveDateTime (or
    effectiveInstant), metric = the LOINC coding of code (or of each component for panel 85354-9),
    value/unit = valueQuantity.value / .code (UCUM). Field names in errors are FHIR paths.
    """
    if not isinstance(obs, Mapping) or obs.get("resourceType") != "Observation":
        return [FieldError("resourceType", "must be 'Observation'")]
    errors: list[FieldError] = []
    if obs.get("status") not in ("final", "amended", "corrected", "preliminary"):
        errors.append(FieldError("Observation.status", "must be final, amended, corrected or preliminary"))
    device = _ref_id(obs.get("device"), "Device")
    if device is None:
        errors.append(FieldError("Observation.device", "required: a reference Device/<id>"))
    session = _ref_id(obs.get("encounter"), "Encounter")
    if session is None:
        errors.append(FieldError("Observation.encounter", "required: a reference Encounter/<session id>"))
    seq: object = None
    for ident in obs.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == SEQ_IDENTIFIER_SYSTEM:
            v = ident.get("value")
            seq = int(v) if isinstance(v, str) and v.isdigit() else None
    if seq is None:
        errors.append(
            FieldError(
                "Observation.identifier", f"required: an identifier with system {SEQ_IDENTIFIER_SYSTEM}"
            )
        )
    time = obs.get("effectiveDateTime", obs.get("effectiveInstant"))
    code = _loinc(obs.get("code"))
    if code is None:
        errors.append(FieldError("Observation.code", "required: a LOINC coding"))
    if errors:
        return errors
    base = {"device": device, "session": session, "seq": seq, "time": time}
    if code == BP_PANEL_CODE:
        out: list[dict[str, Any]] = []
        for i, comp in enumerate(obs.get("component") or []):
            if not isinstance(comp, Mapping):
                continue
            c = _loinc(comp.get("code"))
            value, unit = _quantity(comp.get("valueQuantity"))
            if c is None:
                errors.append(FieldError(f"Observation.component[{i}].code", "required: a LOINC coding"))
                continue
            out.append({**base, "metric": c, "value": value, "unit": unit})
        if not out and not errors:
            errors.append(
                FieldError("Observation.component", "a blood-pressure panel needs SBP/DBP components")
            )
        return errors if errors else out
    value, unit = _quantity(obs.get("valueQuantity"))
    return [{**base, "metric": code, "value": value, "unit": unit}]
