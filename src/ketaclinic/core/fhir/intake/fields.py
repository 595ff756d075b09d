"""Field readers for intake resources: partial dates, codings, status codes, mm[Hg] and weight quantities."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from ketaclinic.core.fhir.intake.facts import PartialDate
from ketaclinic.core.terminology import (
    LOINC,
    UCUM,
)


def parse_partial_date(value: object) -> PartialDate | None:
    """Parse a FHIR date or dateTime string (YYYY, YYYY-MM, YYYY-MM-DD, or full dateTime); None if unparseable."""
    if not isinstance(value, str):
        return None
    s = value.strip()
    try:
        if len(s) == 4:
            y = int(s)
            start, end = date(y, 1, 1), date(y, 12, 31)
        elif len(s) == 7:
            y, m = int(s[:4]), int(s[5:7])
            start, end = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        elif len(s) == 10:
            start = end = date.fromisoformat(s)
        else:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return PartialDate(dt.date(), dt.date(), dt, s)
    except ValueError:
        return None
    return PartialDate(start, end, datetime.combine(start, time(0), tzinfo=UTC), s)


def _ref_of(resource: Mapping[str, Any], full_url: object, index: int) -> str:
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        return f"{resource.get('resourceType')}/{rid}"
    if isinstance(full_url, str) and full_url:
        return full_url
    return f"Bundle.entry[{index}]"


def _status_code(cc: object) -> str | None:
    """The code of a status CodeableConcept (clinicalStatus / verificationStatus)."""
    if not isinstance(cc, dict):
        return None
    for coding in cc.get("coding") or []:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _codings(cc: object) -> list[dict[str, Any]]:
    if not isinstance(cc, dict):
        return []
    return [c for c in cc.get("coding") or [] if isinstance(c, dict)]


def _names(cc: object) -> list[str]:
    out: list[str] = []
    if isinstance(cc, dict):
        if isinstance(cc.get("text"), str):
            out.append(cc["text"])
        out.extend(str(c["display"]) for c in _codings(cc) if isinstance(c.get("display"), str))
    return out


def _has_loinc(cc: object, codes: frozenset[str]) -> bool:
    return any(c.get("system") == LOINC and c.get("code") in codes for c in _codings(cc))


def _effective(res: Mapping[str, Any]) -> tuple[PartialDate | None, str]:
    if "effectiveDateTime" in res:
        return parse_partial_date(res["effectiveDateTime"]), "effectiveDateTime"
    if "effectiveInstant" in res:
        return parse_partial_date(res["effectiveInstant"]), "effectiveInstant"
    period = res.get("effectivePeriod")
    if isinstance(period, dict):
        return parse_partial_date(period.get("end") or period.get("start")), "effectivePeriod"
    return None, "effective[x]"


_MMHG_UNITS = frozenset({"mm[Hg]", "mmHg", "mm Hg"})


def _mmhg(q: object, path: str) -> tuple[float | None, str | None]:
    """Read a blood-pressure Quantity: (value, None) or (None, reason)."""
    if not isinstance(q, dict):
        return None, f"{path}: missing (a valueQuantity in mm[Hg] is required)"
    value = q.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, f"{path}.value: missing"
    code, unit, system = q.get("code"), q.get("unit"), q.get("system")
    if code is not None:
        if code != "mm[Hg]" or (system is not None and system != UCUM):
            return None, f"{path}.code: unit {code!r} (system {system!r}) is not UCUM mm[Hg]"
    elif unit is None:
        return None, f"{path}: no unit (mm[Hg] required)"
    elif unit not in _MMHG_UNITS:
        return None, f"{path}.unit: {unit!r} is not mm[Hg]"
    v = float(value)
    if not 0 < v < 400:
        return None, f"{path}.value: {v:g} mm[Hg] is not a plausible blood pressure"
    return v, None


_WEIGHT_UCUM = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237}


_WEIGHT_UNITS = {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "lbs": 0.45359237, "[lb_av]": 0.45359237}


def _weight_kg(q: object, path: str) -> tuple[float | None, str | None]:
    if not isinstance(q, dict):
        return None, f"{path}: missing (a valueQuantity in kg, g or [lb_av] is required)"
    value = q.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, f"{path}.value: missing"
    code, unit, system = q.get("code"), q.get("unit"), q.get("system")
    if code is not None:
        if code not in _WEIGHT_UCUM or (system is not None and system != UCUM):
            return None, f"{path}.code: unit {code!r} is not a UCUM mass unit (kg, g, [lb_av])"
        factor = _WEIGHT_UCUM[code]
    elif isinstance(unit, str) and unit in _WEIGHT_UNITS:
        factor = _WEIGHT_UNITS[unit]
    else:
        return None, f"{path}: no usable unit (kg, g or [lb_av] required)"
    kg = float(value) * factor
    if not 0 < kg < 700:
        return None, f"{path}.value: {kg:g} kg is not a plausible body weight"
    return kg, None
