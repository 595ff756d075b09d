"""Infusion guard rails of the dose guard: minimum infusion time and bolus ceiling, rate, duration, session total.

A dose given over less than the protocol's minimum infusion time is a bolus: above the bolus ceiling it is
blocked (`bolus_exceeded`), and no rate is computed for it. Any other dose is an infusion at
rate = (dose / weight) / (duration / 60) mg/kg/h: above the protocol's maximum rate it is blocked
(`rate_exceeded`), above its usual rate it warns (`dose_above_protocol`). Independently, an infusion longer
than the protocol's maximum duration is blocked (`duration_exceeded`), and so is a session whose total
exceeds the protocol's per-session mg/kg (`session_total_exceeded`). The session is the proposed dose plus
every earlier dose of the same drug that started less than the maximum duration before it (a session cannot
be longer than that); with no maximum duration it is the proposed dose alone.
"""

from __future__ import annotations

from datetime import timedelta

from ketaclinic.core.protocols.findings import EPS, Collector, fmt
from ketaclinic.core.protocols.model import InfusionPolicy, Protocol
from ketaclinic.core.protocols.request import DoseRequest


def check_infusion(out: Collector, protocol: Protocol, req: DoseRequest, per_kg: float) -> None:
    """Add the infusion findings for `req.proposed` (nothing for protocols without an infusion policy)."""
    inf = protocol.infusion
    if inf is None:
        return
    p = req.proposed
    w = req.patient.weight_kg
    duration = p.duration_min if p.duration_min is not None else inf.default_duration_min.value
    stated = "" if p.duration_min is not None else " (duration not stated: protocol default assumed)"
    if inf.warn_below_duration_min is not None and duration < inf.warn_below_duration_min.value - EPS:
        out.add(
            "dose_above_protocol",
            "warn",
            f"Infused over {fmt(duration)} min, faster than the protocol's minimum "
            f"{fmt(inf.warn_below_duration_min.value)} min.",
            inf.warn_below_duration_min,
        )
    if inf.max_duration_min is not None and duration > inf.max_duration_min.value + EPS:
        out.add(
            "duration_exceeded",
            "block",
            f"Infusion over {fmt(duration)} min is longer than the protocol's maximum "
            f"{fmt(inf.max_duration_min.value)} min per session.",
            inf.max_duration_min,
        )
    if not protocol.weight_based:
        return
    shown = f"{fmt(p.dose_mg)} mg = {fmt(round(per_kg, 3))} mg/kg at {fmt(w)} kg"
    if inf.is_bolus(duration):
        _check_bolus(out, inf, duration, stated, shown, per_kg)
    else:
        _check_rate(out, inf, duration, stated, shown, per_kg)
    _check_session_total(out, inf, req)


def _check_bolus(
    out: Collector, inf: InfusionPolicy, duration: float, stated: str, shown: str, per_kg: float
) -> None:
    lim = inf.bolus_block_above_mg_per_kg
    if lim is None or per_kg <= lim.value + EPS:
        return
    what = inf.bolus_limit
    under = (
        f"less than the {fmt(what.value)}-min minimum infusion time"
        if inf.min_infusion_min and what
        else "a bolus"
    )
    out.add(
        "bolus_exceeded",
        "block",
        f"Given over {fmt(duration)} min{stated}, {under}: {shown} exceeds the bolus maximum "
        f"{fmt(lim.value)} mg/kg.",
        lim,
    )


def _check_rate(
    out: Collector, inf: InfusionPolicy, duration: float, stated: str, shown: str, per_kg: float
) -> None:
    rate = per_kg / (duration / 60.0)
    rate_txt = f"{fmt(round(rate, 3))} mg/kg/h ({shown} over {fmt(duration)} min{stated})"
    block, warn = inf.rate_block_above_mg_per_kg_h, inf.rate_warn_above_mg_per_kg_h
    if block is not None and rate > block.value + EPS:
        out.add(
            "rate_exceeded",
            "block",
            f"Infusion rate {rate_txt} exceeds the maximum {fmt(block.value)} mg/kg/h.",
            block,
        )
    elif warn is not None and rate > warn.value + EPS:
        out.add(
            "dose_above_protocol",
            "warn",
            f"Infusion rate {rate_txt} is above the protocol's {fmt(warn.value)} mg/kg/h.",
            warn,
        )


def _check_session_total(out: Collector, inf: InfusionPolicy, req: DoseRequest) -> None:
    lim = inf.session_max_mg_per_kg
    w = req.patient.weight_kg
    if lim is None or w <= 0:
        return
    p = req.proposed
    same_session = []
    if inf.max_duration_min is not None:
        span = timedelta(minutes=inf.max_duration_min.value)
        same_session = [h for h in req.history if h.drug == p.drug and timedelta(0) <= p.time - h.time < span]
    mg = p.dose_mg + sum(h.dose_mg for h in same_session)
    if mg / w <= lim.value + EPS:
        return
    earlier = f" with {len(same_session)} earlier dose(s) of this session" if same_session else ""
    out.add(
        "session_total_exceeded",
        "block",
        f"Session total {fmt(round(mg / w, 3))} mg/kg ({fmt(mg)} mg at {fmt(w)} kg{earlier}) exceeds the "
        f"protocol's {fmt(lim.value)} mg/kg per session.",
        lim,
    )
