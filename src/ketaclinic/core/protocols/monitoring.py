"""In-session monitoring as data + pure functions: vital-sign alerts, the observation schedule, discharge criteria."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from ketaclinic.core.protocols.model import (
    Evidence,
    Protocol,
    ProtocolError,
    Sourced,
    _data_text,
    _evidence,
    _mapping,
    _number,
    _req,
    _text,
)
from ketaclinic.core.yamlfile import load_yaml

AlertLevel = Literal["warn", "critical"]
VITALS: tuple[str, ...] = ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate")
VitalPhase = Literal["pre_dose", "during"]


@dataclass(frozen=True, slots=True)
class VitalRule:
    code: str
    vital: str
    op: Literal["gt", "lt"]
    value: float
    level: AlertLevel
    pause_infusion: bool
    source: str
    evidence: Evidence

    def fires(self, x: float) -> bool:
        return x > self.value if self.op == "gt" else x < self.value


@dataclass(frozen=True, slots=True)
class RiseRule:
    code: str
    vital: str
    rise: float
    level: AlertLevel
    source: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class SedationRule:
    code: str
    max_score: int
    level: AlertLevel
    pause_infusion: bool
    source: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class DischargeThresholds:
    systolic_above_baseline_max: Sourced
    diastolic_above_baseline_max: Sourced
    systolic_absolute_max: Sourced
    heart_rate_from_baseline_max: Sourced
    spo2_min: Sourced
    moaas_required: Sourced
    vitals_max_age_min: Sourced


@dataclass(frozen=True, slots=True)
class MonitoringRules:
    version: int
    pre_dose: tuple[VitalRule, ...]
    during: tuple[VitalRule, ...]
    rise_from_baseline: tuple[RiseRule, ...]
    sedation: tuple[SedationRule, ...]
    discharge: DischargeThresholds


@dataclass(frozen=True, slots=True)
class Vitals:
    """One set of vital signs; any value may be missing (None)."""

    taken_at: datetime
    systolic: float | None = None
    diastolic: float | None = None
    heart_rate: float | None = None
    spo2: float | None = None
    respiratory_rate: float | None = None

    def get(self, vital: str) -> float | None:
        v: float | None = getattr(self, vital)
        return v


@dataclass(frozen=True, slots=True)
class VitalAlert:
    code: str
    level: AlertLevel
    vital: str
    value: float
    message: str
    source: str
    pause_infusion: bool


def _alert_level(v: Any, path: str) -> AlertLevel:
    if v == "warn" or v == "critical":
        return v  # type: ignore[no-any-return]
    raise ProtocolError(path, "must be 'warn' or 'critical'")


def _vital(v: Any, path: str) -> str:
    if v not in VITALS:
        raise ProtocolError(path, f"must be one of {', '.join(VITALS)}")
    return str(v)


def _rules(items: Any, path: str) -> tuple[VitalRule, ...]:
    out: list[VitalRule] = []
    for i, it in enumerate(items or []):
        p = f"{path}[{i}]"
        m = _mapping(it, p)
        op = m.get("op")
        if op not in ("gt", "lt"):
            raise ProtocolError(f"{p}.op", "must be 'gt' or 'lt'")
        out.append(
            VitalRule(
                code=_text(m.get("code"), f"{p}.code"),
                vital=_vital(m.get("vital"), f"{p}.vital"),
                op=op,
                value=_number(m.get("value"), f"{p}.value"),
                level=_alert_level(m.get("level"), f"{p}.level"),
                pause_infusion=bool(m.get("pause_infusion", False)),
                source=_text(m.get("source"), f"{p}.source"),
                evidence=_evidence(m.get("evidence"), f"{p}.evidence"),
            )
        )
    return tuple(out)


def parse_monitoring_rules(data: Any) -> MonitoringRules:
    """Validate a monitoring-rules mapping (data/monitoring.yaml or a clinic's own)."""
    m = _mapping(data, "monitoring")
    version = m.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProtocolError("version", "must be a positive integer")
    pre_dose = _rules(m.get("pre_dose"), "pre_dose")
    during = _rules(m.get("during"), "during")
    rises: list[RiseRule] = []
    for i, it in enumerate(m.get("rise_from_baseline") or []):
        p = f"rise_from_baseline[{i}]"
        r = _mapping(it, p)
        rises.append(
            RiseRule(
                code=_text(r.get("code"), f"{p}.code"),
                vital=_vital(r.get("vital"), f"{p}.vital"),
                rise=_number(r.get("rise"), f"{p}.rise"),
                level=_alert_level(r.get("level"), f"{p}.level"),
                source=_text(r.get("source"), f"{p}.source"),
                evidence=_evidence(r.get("evidence"), f"{p}.evidence"),
            )
        )
    sed: list[SedationRule] = []
    for i, it in enumerate(m.get("sedation") or []):
        p = f"sedation[{i}]"
        r = _mapping(it, p)
        mx = r.get("max_score")
        if isinstance(mx, bool) or not isinstance(mx, int) or not 0 <= mx <= 5:
            raise ProtocolError(f"{p}.max_score", "must be an integer 0–5")
        sed.append(
            SedationRule(
                code=_text(r.get("code"), f"{p}.code"),
                max_score=mx,
                level=_alert_level(r.get("level"), f"{p}.level"),
                pause_infusion=bool(r.get("pause_infusion", False)),
                source=_text(r.get("source"), f"{p}.source"),
                evidence=_evidence(r.get("evidence"), f"{p}.evidence"),
            )
        )
    d = _mapping(m.get("discharge"), "discharge")
    keys = (
        "systolic_above_baseline_max",
        "diastolic_above_baseline_max",
        "systolic_absolute_max",
        "heart_rate_from_baseline_max",
        "spo2_min",
        "moaas_required",
        "vitals_max_age_min",
    )
    vals = {k: _req(d.get(k), f"discharge.{k}") for k in keys}
    return MonitoringRules(
        version=version,
        pre_dose=pre_dose,
        during=during,
        rise_from_baseline=tuple(rises),
        sedation=tuple(sed),
        discharge=DischargeThresholds(**vals),
    )


@cache
def monitoring_rules() -> MonitoringRules:
    """The packaged monitoring rules (cached)."""
    return parse_monitoring_rules(load_yaml(_data_text("monitoring.yaml")))


_LABEL = {
    "systolic": ("Systolic BP", "mmHg"),
    "diastolic": ("Diastolic BP", "mmHg"),
    "heart_rate": ("Heart rate", "bpm"),
    "spo2": ("SpO2", "%"),
    "respiratory_rate": ("Respiratory rate", "/min"),
}


def _g(x: float) -> str:
    return f"{x:g}"


def evaluate_vitals(
    reading: Vitals,
    *,
    phase: VitalPhase,
    baseline: Vitals | None = None,
    rules: MonitoringRules | None = None,
) -> tuple[VitalAlert, ...]:
    """Alerts raised by one reading: absolute thresholds for the phase, and (during) rises from baseline.

    At most one alert per vital from the absolute rules (the most severe; critical before warn).
    """
    r = rules or monitoring_rules()
    out: list[VitalAlert] = []
    table = r.pre_dose if phase == "pre_dose" else r.during
    for vital in VITALS:
        x = reading.get(vital)
        if x is None:
            continue
        fired = [rule for rule in table if rule.vital == vital and rule.fires(x)]
        fired.sort(key=lambda rule: 0 if rule.level == "critical" else 1)
        if fired:
            rule = fired[0]
            label, unit = _LABEL[vital]
            cmp = ">" if rule.op == "gt" else "<"
            out.append(
                VitalAlert(
                    code=rule.code,
                    level=rule.level,
                    vital=vital,
                    value=x,
                    message=f"{label} {_g(x)} {unit} {cmp} {_g(rule.value)} {unit}"
                    + (": pause the infusion and reassess." if rule.pause_infusion else "."),
                    source=f"{rule.source} [{rule.evidence}]",
                    pause_infusion=rule.pause_infusion,
                )
            )
    if phase == "during" and baseline is not None:
        for rise in r.rise_from_baseline:
            x, b = reading.get(rise.vital), baseline.get(rise.vital)
            if x is None or b is None or x - b < rise.rise:
                continue
            label, unit = _LABEL[rise.vital]
            out.append(
                VitalAlert(
                    code=rise.code,
                    level=rise.level,
                    vital=rise.vital,
                    value=x,
                    message=f"{label} {_g(x)} {unit} is {_g(x - b)} {unit} above baseline {_g(b)} (≥{_g(rise.rise)}).",
                    source=f"{rise.source} [{rise.evidence}]",
                    pause_infusion=False,
                )
            )
    return tuple(out)


def evaluate_sedation(moaas: int, *, rules: MonitoringRules | None = None) -> VitalAlert | None:
    """Alert for a MOAA/S score (0–5), the most severe matching rule, or None."""
    if not 0 <= moaas <= 5:
        raise ValueError("moaas must be 0–5")
    r = rules or monitoring_rules()
    for rule in sorted(r.sedation, key=lambda s: s.max_score):
        if moaas <= rule.max_score:
            return VitalAlert(
                code=rule.code,
                level=rule.level,
                vital="moaas",
                value=float(moaas),
                message=f"MOAA/S {moaas} (≤{rule.max_score})"
                + (": pause the infusion and reassess." if rule.pause_infusion else "."),
                source=f"{rule.source} [{rule.evidence}]",
                pause_infusion=rule.pause_infusion,
            )
    return None


# ---------------------------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class DueObservation:
    what: str
    due_at: datetime
    source: str


def observation_schedule(
    protocol: Protocol, *, dose_start: datetime, dose_end: datetime, until: datetime
) -> tuple[DueObservation, ...]:
    """Every observation the protocol asks for between dose start and `until` (planned discharge), by time."""
    anchors = {"dose_start": dose_start, "dose_end": dose_end, "discharge": until}
    out: list[DueObservation] = []
    for item in protocol.monitoring:
        start = anchors[item.from_]
        src = f"{item.source} [{item.evidence}]"
        if item.every_min is not None:
            end = anchors[item.to or "discharge"]
            step = timedelta(minutes=item.every_min)
            t = start
            while t <= end:
                out.append(DueObservation(item.what, t, src))
                t += step
        else:
            for m in item.at_min:
                t = start + timedelta(minutes=m)
                if t <= until:
                    out.append(DueObservation(item.what, t, src))
    seen: set[tuple[str, datetime]] = set()
    unique: list[DueObservation] = []
    for o in sorted(out, key=lambda o: (o.due_at, o.what)):
        if (o.what, o.due_at) not in seen:
            seen.add((o.what, o.due_at))
            unique.append(o)
    return tuple(unique)


# ---------------------------------------------------------------------------------------------- discharge


@dataclass(frozen=True, slots=True)
class DischargeInput:
    """What the discharge decision needs from a session (all times timezone-aware)."""

    now: datetime
    baseline: Vitals | None
    vitals: Sequence[Vitals]
    latest_moaas: int | None
    unresolved_side_effects: Sequence[str]
    escort_present: bool
    first_dose_at: datetime | None
    dose_end_at: datetime | None


@dataclass(frozen=True, slots=True)
class UnmetCriterion:
    code: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class DischargeDecision:
    ready: bool
    unmet: tuple[UnmetCriterion, ...]
    earliest_at: datetime | None

    def codes(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.unmet)


def evaluate_discharge(
    inp: DischargeInput, protocol: Protocol, *, rules: MonitoringRules | None = None
) -> DischargeDecision:
    """Is the patient ready to leave? Lists every unmet criterion with its reason and source.

    Criteria: a dose was given; minimum observation time (esketamine ≥120 min from the first device;
    others from the end of the dose); BP at the required time (esketamine 40 ± 5 min); recent vitals back
    near baseline; MOAA/S 5; no unresolved side effect; an escort present.
    """
    r = (rules or monitoring_rules()).discharge
    dp = protocol.discharge
    unmet: list[UnmetCriterion] = []
    earliest: datetime | None = None

    def miss(code: str, message: str, src: Sourced | str) -> None:
        unmet.append(UnmetCriterion(code, message, src.cite() if isinstance(src, Sourced) else src))

    if inp.first_dose_at is None:
        miss("no_dose_recorded", "No dose has been recorded for this session.", "Session workflow")
    else:
        if dp.min_minutes_after_first_dose is not None:
            earliest = inp.first_dose_at + timedelta(minutes=dp.min_minutes_after_first_dose.value)
            elapsed = (inp.now - inp.first_dose_at).total_seconds() / 60.0
            if elapsed < dp.min_minutes_after_first_dose.value:
                miss(
                    "min_observation_not_met",
                    f"{int(elapsed)} min since the first dose; at least {_g(dp.min_minutes_after_first_dose.value)} min "
                    f"required (not before {earliest.isoformat(timespec='minutes')}).",
                    dp.min_minutes_after_first_dose,
                )
        if dp.min_minutes_after_dose_end is not None:
            end = inp.dose_end_at or inp.first_dose_at
            e2 = end + timedelta(minutes=dp.min_minutes_after_dose_end.value)
            earliest = e2 if earliest is None else max(earliest, e2)
            elapsed = (inp.now - end).total_seconds() / 60.0
            if elapsed < dp.min_minutes_after_dose_end.value:
                miss(
                    "min_observation_not_met",
                    f"{int(elapsed)} min since the end of the dose; at least {_g(dp.min_minutes_after_dose_end.value)} "
                    f"min required (not before {e2.isoformat(timespec='minutes')}).",
                    dp.min_minutes_after_dose_end,
                )
        if dp.bp_required_at_min is not None:
            target = inp.first_dose_at + timedelta(minutes=dp.bp_required_at_min.value)
            tol = timedelta(minutes=dp.bp_required_tolerance_min)
            if not any(
                v.systolic is not None and v.diastolic is not None and abs(v.taken_at - target) <= tol
                for v in inp.vitals
            ):
                miss(
                    "bp_at_required_time_missing",
                    f"No blood pressure recorded {_g(dp.bp_required_at_min.value)} ± {_g(dp.bp_required_tolerance_min)} "
                    "min after the first dose.",
                    dp.bp_required_at_min,
                )

    recent = [v for v in inp.vitals if v.taken_at <= inp.now]
    latest_bp = max(
        (v for v in recent if v.systolic is not None and v.diastolic is not None),
        key=lambda v: v.taken_at,
        default=None,
    )
    max_age = timedelta(minutes=r.vitals_max_age_min.value)
    if (
        latest_bp is None
        or inp.now - latest_bp.taken_at > max_age
        or (inp.first_dose_at is not None and latest_bp.taken_at < inp.first_dose_at)
    ):
        miss(
            "pre_discharge_vitals_missing",
            f"No blood pressure in the last {_g(r.vitals_max_age_min.value)} min.",
            r.vitals_max_age_min,
        )
    else:
        _near_baseline(inp, latest_bp, recent, r, miss)

    if inp.latest_moaas is None or inp.latest_moaas < int(r.moaas_required.value):
        got = "not recorded" if inp.latest_moaas is None else str(inp.latest_moaas)
        miss(
            "sedation_unresolved",
            f"Latest MOAA/S is {got}; {int(r.moaas_required.value)} required.",
            r.moaas_required,
        )
    if inp.unresolved_side_effects:
        miss(
            "side_effect_unresolved",
            "Unresolved side effect(s): " + ", ".join(inp.unresolved_side_effects) + ".",
            "REMS: monitor until sedation, dissociation and respiratory depression have resolved [V]",
        )
    if not inp.escort_present:
        miss(
            "no_escort",
            "No escort is recorded to take the patient home.",
            "SPRAVATO PI / clinic protocol: transport arranged, no driving until the next day [V]",
        )
    return DischargeDecision(ready=not unmet, unmet=tuple(unmet), earliest_at=earliest)


def _near_baseline(
    inp: DischargeInput, v: Vitals, recent: Sequence[Vitals], r: DischargeThresholds, miss: Any
) -> None:
    b = inp.baseline
    assert v.systolic is not None and v.diastolic is not None
    if v.systolic > r.systolic_absolute_max.value:
        miss(
            "vitals_not_near_baseline",
            f"Systolic BP {_g(v.systolic)} mmHg is above {_g(r.systolic_absolute_max.value)} mmHg.",
            r.systolic_absolute_max,
        )
    if (
        b is not None
        and b.systolic is not None
        and v.systolic - b.systolic > r.systolic_above_baseline_max.value
    ):
        miss(
            "vitals_not_near_baseline",
            f"Systolic BP {_g(v.systolic)} mmHg is {_g(v.systolic - b.systolic)} above baseline {_g(b.systolic)} "
            f"(max {_g(r.systolic_above_baseline_max.value)}).",
            r.systolic_above_baseline_max,
        )
    if (
        b is not None
        and b.diastolic is not None
        and v.diastolic - b.diastolic > r.diastolic_above_baseline_max.value
    ):
        miss(
            "vitals_not_near_baseline",
            f"Diastolic BP {_g(v.diastolic)} mmHg is {_g(v.diastolic - b.diastolic)} above baseline {_g(b.diastolic)} "
            f"(max {_g(r.diastolic_above_baseline_max.value)}).",
            r.diastolic_above_baseline_max,
        )
    hr = next(
        (
            x.heart_rate
            for x in sorted(recent, key=lambda x: x.taken_at, reverse=True)
            if x.heart_rate is not None
        ),
        None,
    )
    if (
        hr is not None
        and b is not None
        and b.heart_rate is not None
        and abs(hr - b.heart_rate) > r.heart_rate_from_baseline_max.value
    ):
        miss(
            "vitals_not_near_baseline",
            f"Heart rate {_g(hr)} bpm is {_g(abs(hr - b.heart_rate))} from baseline {_g(b.heart_rate)} "
            f"(max {_g(r.heart_rate_from_baseline_max.value)}).",
            r.heart_rate_from_baseline_max,
        )
    spo2 = next(
        (x.spo2 for x in sorted(recent, key=lambda x: x.taken_at, reverse=True) if x.spo2 is not None), None
    )
    if spo2 is not None and spo2 < r.spo2_min.value:
        miss("vitals_not_near_baseline", f"SpO2 {_g(spo2)}% is below {_g(r.spo2_min.value)}%.", r.spo2_min)


__all__ = [
    "DischargeDecision",
    "DischargeInput",
    "DueObservation",
    "MonitoringRules",
    "UnmetCriterion",
    "VitalAlert",
    "Vitals",
    "evaluate_discharge",
    "evaluate_sedation",
    "evaluate_vitals",
    "monitoring_rules",
    "observation_schedule",
    "parse_monitoring_rules",
]
