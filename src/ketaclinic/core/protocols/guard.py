"""The dose guard: check a proposed ketamine/esketamine dose against a protocol and the patient's history.

`check_dose(request, protocol)` returns every finding with its level; the decision is the most severe
level (`block` > `warn`; no finding = `allow`). It explains itself (numbers, rule, source) and never
changes the dose: the clinician decides, a `warn` needs a prescriber's reason, a `block` cannot be saved.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from ketaclinic.core.protocols.findings import (
    EPS,
    FINDING_CODES,
    Collector,
    Decision,
    DoseCheckResult,
    Finding,
    FindingCode,
    fmt,
)
from ketaclinic.core.protocols.infusion_checks import check_infusion
from ketaclinic.core.protocols.model import Protocol
from ketaclinic.core.protocols.request import (
    Dose,
    DoseRequest,
    DoseRequestError,
    PatientFacts,
    parse_dose,
    parse_dose_request,
)
from ketaclinic.core.protocols.settings import GuardSettings, guard_settings

__all__ = [
    "FINDING_CODES",
    "Decision",
    "Dose",
    "DoseCheckResult",
    "DoseRequest",
    "DoseRequestError",
    "Finding",
    "FindingCode",
    "PatientFacts",
    "check_dose",
    "parse_dose",
    "parse_dose_request",
]

_EPS = EPS
_fmt = fmt
_Collector = Collector


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


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
    _check_weight_change(out, s, request)
    _check_age(out, s, request)
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


def _check_weight_change(out: _Collector, s: GuardSettings, req: DoseRequest) -> None:
    pf = req.patient
    prev, prev_on = pf.previous_weight_kg, pf.previous_weight_date
    if prev is None or prev_on is None or pf.weight_kg <= 0:
        return
    days = abs((req.proposed.time.date() - prev_on).days)
    if days > s.weight_change_within_days.value + _EPS:
        return
    pct = 100.0 * abs(pf.weight_kg - prev) / prev
    if pct > s.weight_change_percent.value + _EPS:
        out.add(
            "weight_changed",
            "warn",
            f"Weight {_fmt(pf.weight_kg)} kg is {_fmt(round(pct, 1))}% away from {_fmt(prev)} kg recorded on "
            f"{prev_on.isoformat()} ({days} days earlier): confirm the weight and its unit "
            f"(more than {_fmt(s.weight_change_percent.value)}% within "
            f"{_fmt(s.weight_change_within_days.value)} days).",
            s.weight_change_percent,
        )


def _check_age(out: _Collector, s: GuardSettings, req: DoseRequest) -> None:
    birth = req.patient.birth_date
    if birth is None:
        return
    on = req.proposed.time.date()
    age = _age_on(birth, on)
    if req.proposed.drug == "esketamine":
        lim = s.esketamine_block_below_age
        if age < lim.value - _EPS:
            out.add(
                "age_below_label",
                "block",
                f"Patient is {age} on {on.isoformat()}: esketamine is labelled only for patients aged "
                f"{_fmt(lim.value)} and over.",
                lim,
            )
        return
    lim = s.ketamine_warn_below_age
    if age < lim.value - _EPS:
        out.add(
            "age_under_18",
            "warn",
            f"Patient is {age} on {on.isoformat()}: under {_fmt(lim.value)}, outside the adult evidence for "
            "ketamine; a prescriber's reason is required.",
            lim,
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

    check_infusion(out, protocol, req, per_kg)


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
