"""The dose guard: check a proposed ketamine/esketamine dose against a protocol and the patient's history.

`check_dose(request, protocol)` returns every finding with its level; the decision is the most severe
level (`block` > `warn`; no finding = `allow`). It explains itself (numbers, rule, source) and never
changes the dose: the clinician decides, a `warn` needs a prescriber's reason, a `block` cannot be saved.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ketaclinic.core.protocols.model import (
    DRUGS,
    ROUTES,
    Drug,
    GuardSettings,
    Level,
    Protocol,
    Sourced,
    guard_settings,
)

Decision = Literal["allow", "warn", "block"]
FindingCode = Literal[
    "weight_implausible",
    "dose_exceeds_max",
    "dose_above_protocol",
    "invalid_device_multiple",
    "interval_too_short",
    "cumulative_exceeded",
    "escalation_pattern",
    "deviates_from_order",
]
FINDING_CODES: tuple[FindingCode, ...] = (
    "weight_implausible",
    "dose_exceeds_max",
    "dose_above_protocol",
    "invalid_device_multiple",
    "interval_too_short",
    "cumulative_exceeded",
    "escalation_pattern",
    "deviates_from_order",
)
_RANK: dict[str, int] = {"allow": 0, "warn": 1, "block": 2}
_EPS = 1e-9


class DoseRequestError(ValueError):
    """Bad dose-check input; `field` names the offending field (e.g. `history[2].time`)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


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
    weight_kg: float
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class DoseRequest:
    patient: PatientFacts
    protocol_id: str
    history: tuple[Dose, ...]
    proposed: Dose


@dataclass(frozen=True, slots=True)
class Finding:
    code: FindingCode
    level: Level
    message: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class DoseCheckResult:
    decision: Decision
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        """The CONTRACTS.md §3 output object."""
        return {"decision": self.decision, "findings": [f.to_dict() for f in self.findings]}

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)


# ---------------------------------------------------------------------------------------------- parsing


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


def parse_dose_request(data: Any) -> DoseRequest:
    """Parse the CONTRACTS.md §3 REQUEST object; raises DoseRequestError naming the field."""
    if not isinstance(data, Mapping):
        raise DoseRequestError("request", "must be a JSON object")
    patient = data.get("patient")
    if not isinstance(patient, Mapping):
        raise DoseRequestError("patient", "is required and must be an object")
    if "weight_kg" not in patient:
        raise DoseRequestError("patient.weight_kg", "is required")
    # A zero/negative weight is a valid number but an implausible weight: the guard blocks it.
    weight = _num(patient["weight_kg"], "patient.weight_kg", positive=False)
    bd = patient.get("birth_date")
    birth: date | None = None
    if bd is not None:
        if not isinstance(bd, str):
            raise DoseRequestError("patient.birth_date", "must be a YYYY-MM-DD string")
        try:
            birth = date.fromisoformat(bd)
        except ValueError:
            raise DoseRequestError("patient.birth_date", f"is not a YYYY-MM-DD date: {bd!r}") from None
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
        patient=PatientFacts(weight_kg=weight, birth_date=birth),
        protocol_id=protocol,
        history=tuple(parse_dose(h, f"history[{i}]") for i, h in enumerate(history)),
        proposed=parse_dose(data["proposed"], "proposed"),
    )


# ---------------------------------------------------------------------------------------------- checking


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if not float(x).is_integer() else f"{int(x)}"


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class _Collector:
    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, code: FindingCode, level: Level, message: str, src: Sourced | str | None = None) -> None:
        source = src.cite() if isinstance(src, Sourced) else (src or "")
        full = f"{message} Source: {source}" if source else message
        self.items.append(Finding(code=code, level=level, message=full, source=source))

    def result(self) -> DoseCheckResult:
        # One finding per code (its most severe), in the order codes were first raised.
        best: dict[str, Finding] = {}
        for f in self.items:
            if f.code not in best or _RANK[f.level] > _RANK[best[f.code].level]:
                best[f.code] = f
        order: list[str] = []
        for f in self.items:
            if f.code not in order:
                order.append(f.code)
        merged: list[Finding] = []
        for c in order:
            top = best[c]
            others = [f.message for f in self.items if f.code == c and f is not top]
            msg = " Also: ".join([top.message, *others])
            merged.append(Finding(code=top.code, level=top.level, message=msg, source=top.source))
        findings = tuple(merged)
        decision: Decision = "allow"
        for f in findings:
            if _RANK[f.level] > _RANK[decision]:
                decision = f.level
        return DoseCheckResult(decision=decision, findings=findings)


def check_dose(
    request: DoseRequest, protocol: Protocol, *, settings: GuardSettings | None = None
) -> DoseCheckResult:
    """Check `request.proposed` against `protocol` and `request.history`.

    Rules (numbers and sources from the protocol's data file and data/guard.yaml):
    weight plausibility; single-dose ceiling (mg/kg and absolute mg) and protocol range; first-dose
    rule; infusion duration/rate and bolus limit; device multiples; minimum interval to any other
    ketamine/esketamine dose; cumulative limits over rolling windows; course phase frequency and
    maximum course length; escalation (dose creep, shortening intervals); administered vs ordered.
    Raises DoseRequestError if the proposed drug/route does not belong to the protocol.
    """
    s = settings or guard_settings()
    # Canonical history order (time, then content) so the result never depends on the input order.
    request = DoseRequest(
        request.patient, request.protocol_id, tuple(sorted(request.history, key=_dose_key)), request.proposed
    )
    p = request.proposed
    w = request.patient.weight_kg
    out = _Collector()

    if p.drug != protocol.drug:
        raise DoseRequestError(
            "proposed.drug", f"protocol {protocol.id} is for {protocol.drug}, not {p.drug}"
        )
    if p.route not in protocol.routes:
        raise DoseRequestError(
            "proposed.route",
            f"protocol {protocol.id} allows route(s) {', '.join(protocol.routes)}, not {p.route}",
        )

    _check_weight(out, w, s)
    per_kg = p.dose_mg / w if w > 0 else math.inf
    same_drug_before = sorted(
        (h for h in request.history if h.drug == p.drug and h.time <= p.time), key=lambda h: h.time
    )
    _check_single_dose(out, protocol, request, per_kg, first=not same_drug_before)
    _check_interval(out, protocol, request)
    _check_cumulative(out, protocol, request, same_drug_before)
    _check_escalation(out, s, request)
    _check_order(out, s, p)
    return out.result()


def _dose_key(d: Dose) -> tuple[datetime, str, str, float, float, float]:
    return (d.time, d.drug, d.route, d.dose_mg, d.duration_min or -1.0, d.ordered_mg or -1.0)


def _check_weight(out: _Collector, w: float, s: GuardSettings) -> None:
    if w < s.weight_block_below.value:
        out.add(
            "weight_implausible",
            "block",
            f"Weight {_fmt(w)} kg is below {_fmt(s.weight_block_below.value)} kg.",
            s.weight_block_below,
        )
    elif w > s.weight_block_above.value:
        out.add(
            "weight_implausible",
            "block",
            f"Weight {_fmt(w)} kg is above {_fmt(s.weight_block_above.value)} kg.",
            s.weight_block_above,
        )
    elif w < s.weight_warn_below.value:
        out.add(
            "weight_implausible",
            "warn",
            f"Weight {_fmt(w)} kg is below {_fmt(s.weight_warn_below.value)} kg: confirm it.",
            s.weight_warn_below,
        )
    elif w > s.weight_warn_above.value:
        out.add(
            "weight_implausible",
            "warn",
            f"Weight {_fmt(w)} kg is above {_fmt(s.weight_warn_above.value)} kg: confirm it.",
            s.weight_warn_above,
        )


def _check_single_dose(
    out: _Collector, protocol: Protocol, req: DoseRequest, per_kg: float, *, first: bool
) -> None:
    p = req.proposed
    w = req.patient.weight_kg
    d = protocol.dose
    if protocol.device_mg is not None:
        dev = protocol.device_mg.value
        q = p.dose_mg / dev
        if abs(q - round(q)) > 1e-6:
            out.add(
                "invalid_device_multiple",
                "block",
                f"{_fmt(p.dose_mg)} mg is not a whole number of {_fmt(dev)} mg devices.",
                protocol.device_mg,
            )

    if protocol.weight_based:
        amount, unit = per_kg, "mg/kg"
        shown = f"{_fmt(p.dose_mg)} mg = {_fmt(round(per_kg, 3))} mg/kg at {_fmt(w)} kg"
    else:
        amount, unit = p.dose_mg, "mg"
        shown = f"{_fmt(p.dose_mg)} mg"
    if d.block_above is not None and amount > d.block_above.value + _EPS:
        out.add(
            "dose_exceeds_max",
            "block",
            f"{shown} exceeds the maximum single dose of {_fmt(d.block_above.value)} {unit}.",
            d.block_above,
        )
    if d.block_above_mg is not None and p.dose_mg > d.block_above_mg.value + _EPS:
        out.add(
            "dose_exceeds_max",
            "block",
            f"{_fmt(p.dose_mg)} mg exceeds the absolute maximum of {_fmt(d.block_above_mg.value)} mg.",
            d.block_above_mg,
        )
    if d.warn_above is not None and amount > d.warn_above.value + _EPS:
        out.add(
            "dose_above_protocol",
            "warn",
            f"{shown} is above the protocol's {_fmt(d.warn_above.value)} {unit}.",
            d.warn_above,
        )

    if first:
        limit = d.first_dose_max_mg
        birth = req.patient.birth_date
        if (
            d.first_dose_max_mg_age_65_plus is not None
            and birth is not None
            and _age_on(birth, p.time.date()) >= 65
        ):
            limit = d.first_dose_max_mg_age_65_plus
        if limit is not None and p.dose_mg > limit.value + _EPS:
            out.add(
                "dose_above_protocol",
                "warn",
                f"First dose of the course: {_fmt(p.dose_mg)} mg is above the first-dose {_fmt(limit.value)} mg.",
                limit,
            )

    inf = protocol.infusion
    if inf is None:
        return
    duration = p.duration_min if p.duration_min is not None else inf.default_duration_min.value
    stated = "" if p.duration_min is not None else " (duration not stated: protocol default assumed)"
    if inf.warn_below_duration_min is not None and duration < inf.warn_below_duration_min.value - _EPS:
        out.add(
            "dose_above_protocol",
            "warn",
            f"Infused over {_fmt(duration)} min, faster than the protocol's minimum "
            f"{_fmt(inf.warn_below_duration_min.value)} min.",
            inf.warn_below_duration_min,
        )
    if not protocol.weight_based:
        return
    is_bolus = inf.bolus_max_duration_min is not None and duration <= inf.bolus_max_duration_min.value + _EPS
    if is_bolus:
        lim = inf.bolus_block_above_mg_per_kg
        if lim is not None and per_kg > lim.value + _EPS:
            out.add(
                "dose_exceeds_max",
                "block",
                f"Bolus over {_fmt(duration)} min{stated}: {shown} exceeds the bolus maximum "
                f"{_fmt(lim.value)} mg/kg.",
                lim,
            )
        return
    rate = per_kg / (duration / 60.0)
    rate_txt = f"{_fmt(round(rate, 3))} mg/kg/h ({shown} over {_fmt(duration)} min{stated})"
    if inf.rate_block_above_mg_per_kg_h is not None and rate > inf.rate_block_above_mg_per_kg_h.value + _EPS:
        out.add(
            "dose_exceeds_max",
            "block",
            f"Infusion rate {rate_txt} exceeds the maximum {_fmt(inf.rate_block_above_mg_per_kg_h.value)} mg/kg/h.",
            inf.rate_block_above_mg_per_kg_h,
        )
    elif inf.rate_warn_above_mg_per_kg_h is not None and rate > inf.rate_warn_above_mg_per_kg_h.value + _EPS:
        out.add(
            "dose_above_protocol",
            "warn",
            f"Infusion rate {rate_txt} is above the protocol's {_fmt(inf.rate_warn_above_mg_per_kg_h.value)} mg/kg/h.",
            inf.rate_warn_above_mg_per_kg_h,
        )


def _hours(td: timedelta) -> float:
    return td.total_seconds() / 3600.0


def _check_interval(out: _Collector, protocol: Protocol, req: DoseRequest) -> None:
    # Any ketamine or esketamine dose counts: both are NMDA antagonists with additive effects.
    if not req.history:
        return
    p = req.proposed
    nearest = min(req.history, key=lambda h: abs(p.time - h.time))
    gap = abs(_hours(p.time - nearest.time))
    where = "after" if nearest.time <= p.time else "before"
    what = f"{_fmt(round(gap, 1))} h {where} the {nearest.drug} dose at {nearest.time.isoformat()}"
    iv = protocol.interval
    if iv.block_below_hours is not None and gap < iv.block_below_hours.value - _EPS:
        out.add(
            "interval_too_short",
            "block",
            f"Proposed {what}: below the {_fmt(iv.block_below_hours.value)} h minimum.",
            iv.block_below_hours,
        )
    elif iv.warn_below_hours is not None and gap < iv.warn_below_hours.value - _EPS:
        out.add(
            "interval_too_short",
            "warn",
            f"Proposed {what}: below the protocol's {_fmt(iv.warn_below_hours.value)} h interval.",
            iv.warn_below_hours,
        )


def _in_window(doses: Sequence[Dose], t: datetime, days: float) -> list[Dose]:
    span = timedelta(days=days)
    return [h for h in doses if timedelta(0) <= t - h.time < span]


def _check_cumulative(out: _Collector, protocol: Protocol, req: DoseRequest, before: list[Dose]) -> None:
    p = req.proposed
    w = req.patient.weight_kg
    for c in protocol.cumulative:
        window = _in_window(before, p.time, c.window_days)
        n = len(window) + 1
        mg = sum(h.dose_mg for h in window) + p.dose_mg
        span = f"in {_fmt(c.window_days)} days (including this dose)"
        if c.max_doses is not None and n > c.max_doses:
            out.add(
                "cumulative_exceeded",
                c.level,
                f"{n} doses {span}: above the limit of {c.max_doses}.",
                f"{c.source} [{c.evidence}]",
            )
        if c.max_mg is not None and mg > c.max_mg + _EPS:
            out.add(
                "cumulative_exceeded",
                c.level,
                f"{_fmt(mg)} mg {span}: above the limit of {_fmt(c.max_mg)} mg.",
                f"{c.source} [{c.evidence}]",
            )
        if c.max_mg_per_kg is not None and w > 0 and mg / w > c.max_mg_per_kg + _EPS:
            out.add(
                "cumulative_exceeded",
                c.level,
                f"{_fmt(round(mg / w, 3))} mg/kg ({_fmt(mg)} mg at {_fmt(w)} kg) {span}: above the limit of "
                f"{_fmt(c.max_mg_per_kg)} mg/kg.",
                f"{c.source} [{c.evidence}]",
            )

    if not protocol.phases and protocol.course_max_weeks is None:
        return
    start = before[0].time if before else p.time
    week = int((p.time - start) / timedelta(days=7)) + 1
    for ph in protocol.phases:
        if ph.contains(week):
            n = len(_in_window(before, p.time, 7)) + 1
            if n > ph.max_doses_per_7_days:
                out.add(
                    "cumulative_exceeded",
                    ph.level,
                    f"Course week {week}: {n} doses in 7 days (including this dose), above the phase's "
                    f"{ph.max_doses_per_7_days}.",
                    f"{ph.source} [{ph.evidence}]",
                )
            break
    cmw = protocol.course_max_weeks
    if cmw is not None and week > cmw.value + _EPS:
        out.add(
            "cumulative_exceeded",
            cmw.level or "warn",
            f"Course week {week} (course started {start.date().isoformat()}): beyond the {_fmt(cmw.value)}-week course.",
            cmw,
        )


def _check_escalation(out: _Collector, s: GuardSettings, req: DoseRequest) -> None:
    p = req.proposed
    series = sorted(
        [h for h in req.history if h.drug == p.drug and h.route == p.route and h.time < p.time],
        key=lambda h: h.time,
    )
    series.append(p)
    k = int(s.consecutive_increases.value)
    if len(series) >= k + 1:
        run = series[-(k + 1) :]
        if all(b.dose_mg > a.dose_mg + _EPS for a, b in itertools.pairwise(run)):
            doses = " → ".join(f"{_fmt(d.dose_mg)}" for d in run)
            out.add(
                "escalation_pattern",
                s.escalation_level,
                f"Dose rising at each of the last {k} doses ({doses} mg).",
                s.consecutive_increases,
            )
    m = int(s.shortening_intervals.value)
    if len(series) >= m + 1:
        run = series[-(m + 1) :]
        gaps = [_hours(b.time - a.time) for a, b in itertools.pairwise(run)]
        decreasing = all(b < a - _EPS for a, b in itertools.pairwise(gaps))
        if decreasing and gaps[-1] < s.shortening_ratio.value * gaps[0] - _EPS:
            shown = " → ".join(f"{_fmt(round(g, 1))}" for g in gaps)
            out.add(
                "escalation_pattern",
                s.escalation_level,
                f"Intervals between doses shortening ({shown} h).",
                s.shortening_intervals,
            )


def _check_order(out: _Collector, s: GuardSettings, p: Dose) -> None:
    if p.ordered_mg is None:
        return
    tol = p.ordered_mg * s.order_tolerance_pct.value / 100.0
    diff = p.dose_mg - p.ordered_mg
    pct = 100.0 * diff / p.ordered_mg
    if diff > tol + _EPS:
        out.add(
            "deviates_from_order",
            s.order_over_level,
            f"Administered {_fmt(p.dose_mg)} mg is {_fmt(round(pct, 1))}% above the ordered {_fmt(p.ordered_mg)} mg "
            f"(tolerance {_fmt(s.order_tolerance_pct.value)}%).",
            s.order_tolerance_pct,
        )
    elif -diff > tol + _EPS:
        out.add(
            "deviates_from_order",
            s.order_under_level,
            f"Administered {_fmt(p.dose_mg)} mg is {_fmt(round(-pct, 1))}% below the ordered {_fmt(p.ordered_mg)} mg "
            f"(tolerance {_fmt(s.order_tolerance_pct.value)}%).",
            s.order_tolerance_pct,
        )
