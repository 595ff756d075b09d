"""The surveillance input: one patient's doses, assessments, observations and course end, parsed and checked.

Every record keeps a `ref` naming where it came from (`doses[3]` for the command's HISTORY file, a FHIR
reference in the web), which findings quote as evidence. Times must carry a timezone offset; each record
counts on its UTC calendar day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.instruments import (
    INSTRUMENT_IDS,
    AnswerError,
    UnknownInstrumentError,
    load_instrument,
    score,
)
from ketaclinic.core.protocols import DoseRequestError, parse_dose

#: LOINC codes the engine reads (others are accepted and ignored).
URINE_BLOOD = "5794-3"
ALT = "1742-6"
AST = "1920-8"
NUMERIC_LOINC: frozenset[str] = frozenset({ALT, AST})


class HistoryError(CoreValidationError):
    """Bad surveillance input; `field` names the offending field (e.g. `observations[2].value`)."""


@dataclass(frozen=True, slots=True)
class DoseRecord:
    ref: str
    time: datetime
    dose_mg: float

    @property
    def day(self) -> date:
        return utc_day(self.time)


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    ref: str
    instrument: str
    time: datetime
    total: float | None

    @property
    def day(self) -> date:
        return utc_day(self.time)


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    ref: str
    code: str
    time: datetime
    value: float | str
    unit: str | None = None
    reference_high: float | None = None

    @property
    def day(self) -> date:
        return utc_day(self.time)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A session booked or requested and not yet given."""

    ref: str
    time: datetime


@dataclass(frozen=True, slots=True)
class History:
    weight_kg: float
    doses: tuple[DoseRecord, ...]
    assessments: tuple[AssessmentRecord, ...] = ()
    observations: tuple[ObservationRecord, ...] = ()
    course_end: date | None = None
    requests: tuple[RequestRecord, ...] = ()
    #: The protocol's minimum interval between sessions; None: the schedule's default applies.
    min_interval_hours: float | None = None


def utc_day(t: datetime) -> date:
    """The UTC calendar day of an aware datetime."""
    return t.astimezone(UTC).date()


def _number(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise HistoryError(field, "must be a number")
    return float(v)


def _time(v: Any, field: str) -> datetime:
    """An ISO-8601 date-time with an offset, or a bare YYYY-MM-DD date (taken as midnight UTC)."""
    if not isinstance(v, str) or not v.strip():
        raise HistoryError(field, "must be an ISO-8601 date-time string")
    text = v.strip()
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            raise HistoryError(field, f"is not a date: {v!r}") from None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(field, f"is not an ISO-8601 date-time: {v!r}") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise HistoryError(field, "must include a timezone offset (e.g. Z or +01:00)")
    return t


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    v = data.get(key)
    if v is None:
        return ()
    if not isinstance(v, list):
        raise HistoryError(key, "must be a list")
    return v


def _assessment(raw: Any, field: str) -> AssessmentRecord:
    if not isinstance(raw, Mapping):
        raise HistoryError(field, "must be an object")
    iid = raw.get("instrument")
    if not isinstance(iid, str) or not iid:
        raise HistoryError(f"{field}.instrument", "is required")
    try:
        defn = load_instrument(iid)
    except UnknownInstrumentError:
        raise HistoryError(
            f"{field}.instrument", f"unknown instrument {iid!r}; known: {', '.join(INSTRUMENT_IDS)}"
        ) from None
    time = _time(raw.get("time"), f"{field}.time")
    answers = raw.get("answers")
    total_raw = raw.get("total")
    total: float | None = None
    if answers is not None:
        if not isinstance(answers, list):
            raise HistoryError(f"{field}.answers", "must be a list of item values")
        try:
            result = score(defn, answers)
        except AnswerError as exc:
            raise HistoryError(f"{field}.answers", f"{exc.field}: {exc.reason}") from None
        if not result.complete:
            raise HistoryError(f"{field}.answers", f"unanswered item(s) {', '.join(result.missing_items)}")
        if result.total is not None:
            total = float(result.total)
    if total_raw is not None:
        given = _number(total_raw, f"{field}.total")
        if not defn.has_total:
            raise HistoryError(f"{field}.total", f"{defn.short_title} has no total")
        if not defn.total_min <= given <= defn.total_max:
            raise HistoryError(
                f"{field}.total",
                f"must be between {defn.total_min} and {defn.total_max} for {defn.short_title}",
            )
        if defn.scoring_method == "sum" and given != int(given):
            raise HistoryError(f"{field}.total", "must be a whole number (a sum of item values)")
        if total is not None and given != total:
            raise HistoryError(f"{field}.total", f"is {given:g} but the answers add up to {total:g}")
        total = given
    if answers is None and total_raw is None:
        raise HistoryError(field, "needs answers or a total")
    return AssessmentRecord(ref=field, instrument=iid, time=time, total=total)


def _observation(raw: Any, field: str) -> ObservationRecord:
    if not isinstance(raw, Mapping):
        raise HistoryError(field, "must be an object")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip():
        raise HistoryError(f"{field}.code", "is required (a LOINC code)")
    code = code.strip()
    time = _time(raw.get("time"), f"{field}.time")
    if "value" not in raw or raw["value"] is None:
        raise HistoryError(f"{field}.value", "is required")
    value_raw = raw["value"]
    value: float | str
    if isinstance(value_raw, str):
        if not value_raw.strip():
            raise HistoryError(f"{field}.value", "must not be empty")
        value = value_raw.strip()
    else:
        value = _number(value_raw, f"{field}.value")
    if code in NUMERIC_LOINC and isinstance(value, str):
        raise HistoryError(f"{field}.value", "a liver enzyme result must be a number")
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise HistoryError(f"{field}.unit", "must be text")
    high_raw = raw.get("reference_high")
    high: float | None = None
    if high_raw is not None:
        high = _number(high_raw, f"{field}.reference_high")
        if high <= 0:
            raise HistoryError(f"{field}.reference_high", "must be greater than 0")
    return ObservationRecord(ref=field, code=code, time=time, value=value, unit=unit, reference_high=high)


def parse_history(data: Any) -> History:
    """Parse the HISTORY object of `ketaclinic surveillance`; raises HistoryError naming the field."""
    if not isinstance(data, Mapping):
        raise HistoryError("history", "must be a JSON object")
    patient = data.get("patient")
    if not isinstance(patient, Mapping):
        raise HistoryError("patient", "is required and must be an object")
    if "weight_kg" not in patient:
        raise HistoryError("patient.weight_kg", "is required")
    weight = _number(patient["weight_kg"], "patient.weight_kg")
    if weight <= 0:
        raise HistoryError("patient.weight_kg", "must be greater than 0")
    doses: list[DoseRecord] = []
    for i, raw in enumerate(_list(data, "doses")):
        try:
            d = parse_dose(raw, f"doses[{i}]")
        except DoseRequestError as exc:
            raise HistoryError(exc.field, exc.reason) from None
        doses.append(DoseRecord(ref=f"doses[{i}]", time=d.time, dose_mg=d.dose_mg))
    assessments = tuple(_assessment(a, f"assessments[{i}]") for i, a in enumerate(_list(data, "assessments")))
    observations = tuple(
        _observation(o, f"observations[{i}]") for i, o in enumerate(_list(data, "observations"))
    )
    end_raw = data.get("course_end")
    course_end = None if end_raw is None else utc_day(_time(end_raw, "course_end"))
    requests: list[RequestRecord] = []
    for i, raw in enumerate(_list(data, "requests")):
        if not isinstance(raw, Mapping) or "time" not in raw:
            raise HistoryError(f"requests[{i}].time", "is required")
        requests.append(RequestRecord(ref=f"requests[{i}]", time=_time(raw["time"], f"requests[{i}].time")))
    interval: float | None = None
    if data.get("min_interval_hours") is not None:
        interval = _number(data["min_interval_hours"], "min_interval_hours")
        if not 0 < interval <= 24 * 60:
            raise HistoryError("min_interval_hours", "must be greater than 0 and at most 1440")
    return History(
        weight_kg=weight,
        doses=tuple(doses),
        assessments=assessments,
        observations=observations,
        course_end=course_end,
        requests=tuple(requests),
        min_interval_hours=interval,
    )
