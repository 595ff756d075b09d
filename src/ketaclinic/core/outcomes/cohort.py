"""Cohort outcomes from score series: baseline, evaluable patients, response, remission, time to response.

Definitions (data: `core/instruments/data/outcomes.yaml`, `cohort` block and the instrument rules):
- baseline: the latest score at or before the first dose and at most `baseline_window_days` (14) before it;
- evaluable: a baseline and at least one score after the first dose;
- response at a score: (baseline - total) / baseline >= the response reduction (exact rational arithmetic);
  a baseline of 0 cannot fall, so it never responds;
- remission at a score: the instrument's remission threshold (only the instruments the cohort block lists);
- `response` / `remission`: met at any post-baseline score; `response_last` / `remission_last`: met at the
  patient's latest score; rates are fractions of evaluable patients with Wilson 95 % intervals;
- time to first response: Kaplan-Meier over evaluable patients, in fractional days from the first dose
  (elapsed seconds / 86400), non-responders censored at their latest score; the median is the smallest event
  time with S <= 0.5, no interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.instruments.definitions import INSTRUMENT_IDS, DefinitionError, load_instrument
from ketaclinic.core.instruments.outcomes import RemissionRule, default_outcome_config
from ketaclinic.core.outcomes.stats import KMCurve, kaplan_meier, wilson_interval

SECONDS_PER_DAY = 86400
Total = int | Fraction
NotEvaluableReason = Literal["no_first_dose", "no_baseline", "no_follow_up"]


class CohortError(CoreValidationError):
    """Bad cohort input; `field` names the offending field (e.g. `patients[2].scores[0].total`)."""


@dataclass(frozen=True, slots=True)
class CohortRules:
    """The definitions one cohort analysis applies, each with its source."""

    instrument_id: str
    baseline_window: timedelta
    baseline_source: str
    response_pct: int
    response_source: str
    remission: RemissionRule | None

    def responds(self, baseline: Total, total: Total) -> bool:
        # (baseline - total) / baseline >= pct / 100, without division; a zero baseline cannot fall.
        return baseline > 0 and (baseline - total) * 100 >= self.response_pct * baseline

    def remits(self, total: Total) -> bool | None:
        if self.remission is None:
            return None
        return total < self.remission.value if self.remission.op == "lt" else total <= self.remission.value


@dataclass(frozen=True, slots=True)
class Score:
    """One score. Whole totals are ints (fast exact arithmetic), others exact Fractions (never binary floats)."""

    at: datetime
    total: Total


@dataclass(frozen=True, slots=True)
class CohortPatient:
    id: str | int
    first_dose: datetime | None
    scores: tuple[Score, ...]


@dataclass(frozen=True, slots=True)
class Cohort:
    instrument_id: str
    patients: tuple[CohortPatient, ...]


@dataclass(frozen=True, slots=True)
class PatientOutcome:
    """One patient's outcome; times are relative to the first dose."""

    id: str | int
    evaluable: bool
    not_evaluable_reason: NotEvaluableReason | None
    baseline: Score | None
    latest: Score | None
    pct_change: float | None
    response: bool | None
    remission: bool | None
    response_last: bool | None
    remission_last: bool | None
    time_to_response: timedelta | None
    follow_up: timedelta | None

    @property
    def days_to_response(self) -> float | None:
        return None if self.time_to_response is None else days(self.time_to_response)


@dataclass(frozen=True, slots=True)
class Proportion:
    n: int
    of: int
    rate: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "rate": self.rate, "ci95": list(self.ci95) if self.ci95 else None}


@dataclass(frozen=True, slots=True)
class CohortResult:
    rules: CohortRules
    n: int
    evaluable: int
    not_evaluable: Mapping[NotEvaluableReason, int]
    response: Proportion
    remission: Proportion | None
    response_last: Proportion
    remission_last: Proportion | None
    time_to_response: KMCurve[timedelta]
    patients: tuple[PatientOutcome, ...]

    @property
    def median_days_to_response(self) -> float | None:
        m = self.time_to_response.median
        return None if m is None else days(m)

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON object (`ketaclinic outcomes --json`), with the definitions and patients added."""
        r = self.rules
        return {
            "instrument": r.instrument_id,
            "n": self.n,
            "evaluable": self.evaluable,
            "response": self.response.to_dict(),
            "remission": self.remission.to_dict() if self.remission else None,
            "response_last": self.response_last.to_dict(),
            "remission_last": self.remission_last.to_dict() if self.remission_last else None,
            "median_days_to_response": self.median_days_to_response,
            "not_evaluable": dict(self.not_evaluable),
            "definitions": {
                "baseline_window_days": r.baseline_window.days,
                "baseline_source": r.baseline_source,
                "response_reduction_pct": r.response_pct,
                "response_source": r.response_source,
                "remission": (
                    {"op": r.remission.op, "value": r.remission.value, "source": r.remission.source}
                    if r.remission
                    else None
                ),
            },
            "patients": [_patient_dict(p) for p in self.patients],
        }


def days(td: timedelta) -> float:
    """Fractional days: elapsed seconds / 86400."""
    return td.total_seconds() / SECONDS_PER_DAY


def _num(x: Total | None) -> int | float | None:
    if x is None:
        return None
    if isinstance(x, int):
        return x
    return int(x) if x.denominator == 1 else float(x)


def _patient_dict(p: PatientOutcome) -> dict[str, Any]:
    return {
        "id": p.id,
        "evaluable": p.evaluable,
        "not_evaluable_reason": p.not_evaluable_reason,
        "baseline": _num(p.baseline.total) if p.baseline else None,
        "latest": _num(p.latest.total) if p.latest else None,
        "pct_change": p.pct_change,
        "response": p.response,
        "remission": p.remission,
        "response_last": p.response_last,
        "remission_last": p.remission_last,
        "days_to_response": p.days_to_response,
        "follow_up_days": None if p.follow_up is None else days(p.follow_up),
    }


# --- definitions -------------------------------------------------------------------------------------------


@cache
def _cohort_block() -> Mapping[str, Any]:
    text = resources.files("ketaclinic.core.instruments").joinpath("data", "outcomes.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    block = raw.get("cohort") if isinstance(raw, dict) else None
    if not isinstance(block, dict):
        raise DefinitionError("outcomes.yaml.cohort: must be a mapping")
    for key in ("baseline_window_days", "default_response_pct"):
        v = block.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise DefinitionError(f"outcomes.yaml.cohort.{key}: must be a non-negative integer")
    for key in ("baseline_window_source", "default_response_source"):
        if not isinstance(block.get(key), str) or not block[key]:
            raise DefinitionError(f"outcomes.yaml.cohort.{key}: required")
    insts = block.get("instruments")
    if not isinstance(insts, list) or any(i not in INSTRUMENT_IDS for i in insts):
        raise DefinitionError("outcomes.yaml.cohort.instruments: must list known instrument ids")
    return block


def cohort_instrument_ids() -> tuple[str, ...]:
    """Instruments a cohort can be analysed on: those with a numeric total."""
    return tuple(i for i in INSTRUMENT_IDS if load_instrument(i).has_total)


def cohort_rules(instrument_id: str) -> CohortRules:
    """The cohort definitions for an instrument, from the data file. KeyError for an unknown instrument."""
    if instrument_id not in cohort_instrument_ids():
        raise KeyError(instrument_id)
    block = _cohort_block()
    rule = default_outcome_config().rule_for(instrument_id) if instrument_id in block["instruments"] else None
    if rule is not None and rule.response is not None:
        pct, psource = rule.response.reduction_pct, rule.response.source
    else:
        pct, psource = block["default_response_pct"], block["default_response_source"]
    return CohortRules(
        instrument_id=instrument_id,
        baseline_window=timedelta(days=block["baseline_window_days"]),
        baseline_source=block["baseline_window_source"],
        response_pct=pct,
        response_source=psource,
        remission=rule.remission if rule is not None else None,
    )


# --- input -------------------------------------------------------------------------------------------------


def _time(v: Any, field: str) -> datetime:
    """ISO-8601 date or date-time; without an offset it is read as UTC."""
    if not isinstance(v, str):
        raise CohortError(field, "must be an ISO-8601 date-time string")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise CohortError(field, f"is not an ISO-8601 date-time: {v!r}") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None or t.utcoffset() is None else t


def exact_total(v: int | float) -> Total:
    """A stored or given total as an exact number: ints stay ints, 12.0 becomes 12, 1.67 becomes 167/100."""
    if isinstance(v, int):
        return v
    return int(v) if v.is_integer() else Fraction(repr(v))


def _total(v: Any, field: str, lo: float, hi: float) -> Total:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise CohortError(field, "must be a number")
    total = exact_total(v)
    if not lo <= total <= hi:
        raise CohortError(field, f"{v} is outside the instrument's range {lo}-{hi}")
    return total


def parse_cohort(raw: Any) -> Cohort:
    """Validate a COHORT document; CohortError names the first offending field."""
    if not isinstance(raw, Mapping):
        raise CohortError("COHORT", "must be a JSON object")
    iid = raw.get("instrument")
    if not isinstance(iid, str):
        raise CohortError("instrument", "required: an instrument id such as phq9")
    known = cohort_instrument_ids()
    if iid not in known:
        raise CohortError("instrument", f"unknown or has no total: {iid!r}; known: {', '.join(known)}")
    inst = load_instrument(iid)
    lo, hi = inst.total_min, inst.total_max
    pts = raw.get("patients")
    if not isinstance(pts, list):
        raise CohortError("patients", "required: a list of patients")
    patients: list[CohortPatient] = []
    seen: set[str | int] = set()
    for i, p in enumerate(pts):
        w = f"patients[{i}]"
        if not isinstance(p, Mapping):
            raise CohortError(w, "must be an object")
        pid = p.get("id")
        if isinstance(pid, bool) or not isinstance(pid, str | int) or pid == "":
            raise CohortError(f"{w}.id", "required: a non-empty string or an integer")
        if pid in seen:
            raise CohortError(f"{w}.id", f"duplicate patient id {pid!r}")
        seen.add(pid)
        fd = p.get("first_dose")
        first_dose = None if fd is None else _time(fd, f"{w}.first_dose")
        raw_scores = p.get("scores", [])
        if not isinstance(raw_scores, list):
            raise CohortError(f"{w}.scores", "must be a list")
        scores: list[Score] = []
        for j, s in enumerate(raw_scores):
            sw = f"{w}.scores[{j}]"
            if not isinstance(s, Mapping):
                raise CohortError(sw, "must be an object")
            if "time" not in s:
                raise CohortError(f"{sw}.time", "required")
            if "total" not in s:
                raise CohortError(f"{sw}.total", "required")
            scores.append(
                Score(at=_time(s["time"], f"{sw}.time"), total=_total(s["total"], f"{sw}.total", lo, hi))
            )
        patients.append(CohortPatient(id=pid, first_dose=first_dose, scores=tuple(scores)))
    return Cohort(instrument_id=iid, patients=tuple(patients))


# --- analysis ----------------------------------------------------------------------------------------------


def _not_evaluable(pid: str | int, reason: NotEvaluableReason, baseline: Score | None) -> PatientOutcome:
    return PatientOutcome(
        id=pid,
        evaluable=False,
        not_evaluable_reason=reason,
        baseline=baseline,
        latest=None,
        pct_change=None,
        response=None,
        remission=None,
        response_last=None,
        remission_last=None,
        time_to_response=None,
        follow_up=None,
    )


def split_scores(p: CohortPatient, rules: CohortRules) -> tuple[Score | None, list[Score]]:
    """The patient's baseline (None without one) and post-baseline scores in time order."""
    if p.first_dose is None:
        return None, []
    fd = p.first_dose
    # Stable sort: of scores at the same instant, the one listed last counts as the later.
    ordered = sorted(p.scores, key=lambda s: s.at)
    window = [s for s in ordered if fd - rules.baseline_window <= s.at <= fd]
    return (window[-1] if window else None), [s for s in ordered if s.at > fd]


Split = tuple[CohortPatient, Score | None, list[Score]]


def split_cohort(cohort: Cohort, rules: CohortRules) -> list[Split]:
    """Each patient with their baseline and post-baseline scores: computed once, shared by every analysis."""
    return [(p, *split_scores(p, rules)) for p in cohort.patients]


def assess_patient(
    p: CohortPatient, rules: CohortRules, split: tuple[Score | None, list[Score]] | None = None
) -> PatientOutcome:
    """One patient's baseline, response and remission under `rules` (`split`: from `split_scores`)."""
    if p.first_dose is None:
        return _not_evaluable(p.id, "no_first_dose", None)
    fd = p.first_dose
    baseline, post = split if split is not None else split_scores(p, rules)
    if baseline is None:
        return _not_evaluable(p.id, "no_baseline", None)
    if not post:
        return _not_evaluable(p.id, "no_follow_up", baseline)
    latest = post[-1]
    first = next((s for s in post if rules.responds(baseline.total, s.total)), None)
    remits = [rules.remits(s.total) for s in post]
    pct = None if baseline.total == 0 else float((latest.total - baseline.total) * 100 / baseline.total)
    return PatientOutcome(
        id=p.id,
        evaluable=True,
        not_evaluable_reason=None,
        baseline=baseline,
        latest=latest,
        pct_change=pct,
        response=first is not None,
        remission=None if rules.remission is None else any(remits),
        response_last=rules.responds(baseline.total, latest.total),
        remission_last=remits[-1],
        time_to_response=None if first is None else first.at - fd,
        follow_up=latest.at - fd,
    )


def proportion(k: int, n: int) -> Proportion:
    """k of n with its rate and Wilson 95 % interval (None for both when n == 0)."""
    return Proportion(n=k, of=n, rate=None if n == 0 else k / n, ci95=wilson_interval(k, n))


def analyse_outcomes(patients: Sequence[PatientOutcome], rules: CohortRules) -> CohortResult:
    """Aggregate per-patient outcomes into the cohort figures."""
    ev = [p for p in patients if p.evaluable]
    n_ev = len(ev)
    reasons: dict[NotEvaluableReason, int] = {"no_first_dose": 0, "no_baseline": 0, "no_follow_up": 0}
    for p in patients:
        if p.not_evaluable_reason is not None:
            reasons[p.not_evaluable_reason] += 1
    km_obs: list[tuple[timedelta, bool]] = []
    for p in ev:
        if p.time_to_response is not None:
            km_obs.append((p.time_to_response, True))
        else:
            assert p.follow_up is not None
            km_obs.append((p.follow_up, False))
    has_rem = rules.remission is not None
    return CohortResult(
        rules=rules,
        n=len(patients),
        evaluable=n_ev,
        not_evaluable=reasons,
        response=proportion(sum(1 for p in ev if p.response), n_ev),
        remission=proportion(sum(1 for p in ev if p.remission), n_ev) if has_rem else None,
        response_last=proportion(sum(1 for p in ev if p.response_last), n_ev),
        remission_last=proportion(sum(1 for p in ev if p.remission_last), n_ev) if has_rem else None,
        time_to_response=kaplan_meier(km_obs),
        patients=tuple(patients),
    )


def analyse_cohort(
    cohort: Cohort, rules: CohortRules | None = None, *, splits: Sequence[Split] | None = None
) -> CohortResult:
    """The cohort's outcomes under `rules` (default: the data file's rules for its instrument)."""
    r = rules or cohort_rules(cohort.instrument_id)
    sp = splits if splits is not None else split_cohort(cohort, r)
    return analyse_outcomes([assess_patient(p, r, (b, post)) for p, b, post in sp], r)
