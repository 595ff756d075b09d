"""Response, remission and time to first response from a score series and the first dose time.

Rules (data/outcomes.yaml, configurable): baseline = the last complete score at or before the first dose;
response = reduction from baseline >= the instrument's threshold (50 %, pain 30 %); remission = the latest
post-first-dose score meets the instrument's threshold; time to first response = first responding score
after the first dose minus the first dose time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from ketaclinic.core.instruments.definitions import INSTRUMENT_IDS, DefinitionError
from ketaclinic.core.yamlfile import load_yaml

RemissionOp = Literal["lt", "le"]


@dataclass(frozen=True, slots=True)
class ResponseRule:
    reduction_pct: int
    source: str


@dataclass(frozen=True, slots=True)
class RemissionRule:
    op: RemissionOp
    value: int
    source: str

    def met(self, total: float) -> bool:
        return total < self.value if self.op == "lt" else total <= self.value

    def describe(self) -> str:
        return f"total {'<' if self.op == 'lt' else '<='} {self.value}"


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    instrument_id: str
    response: ResponseRule | None
    remission: RemissionRule | None


@dataclass(frozen=True, slots=True)
class OutcomeConfig:
    version: str
    rules: Mapping[str, OutcomeRule]

    def rule_for(self, instrument_id: str) -> OutcomeRule | None:
        return self.rules.get(instrument_id)


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One complete score at a time (timezone-aware); `total` is a float for mean-scored scales (PEG)."""

    at: datetime
    total: float


@dataclass(frozen=True, slots=True)
class Outcome:
    instrument_id: str
    baseline: ScorePoint | None
    latest: ScorePoint | None
    change: float | None
    pct_change: Decimal | None
    response: bool | None
    remission: bool | None
    first_response: ScorePoint | None
    time_to_first_response: timedelta | None
    explanation: tuple[str, ...]
    response_rule: ResponseRule | None
    remission_rule: RemissionRule | None
    config_version: str

    @property
    def hours_to_first_response(self) -> Decimal | None:
        if self.time_to_first_response is None:
            return None
        return (Decimal(self.time_to_first_response.total_seconds()) / 3600).quantize(Decimal("0.1"))

    @property
    def days_to_first_response(self) -> Decimal | None:
        if self.time_to_first_response is None:
            return None
        return (Decimal(self.time_to_first_response.total_seconds()) / 86400).quantize(Decimal("0.1"))


def parse_outcome_config(raw: Any, filename: str = "outcomes.yaml") -> OutcomeConfig:
    """Validate an outcomes document; DefinitionError names the key on any problem."""
    if not isinstance(raw, dict):
        raise DefinitionError(f"{filename}: top level must be a mapping")
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise DefinitionError(f"{filename}.version: must be a non-empty string")
    insts = raw.get("instruments")
    if not isinstance(insts, dict):
        raise DefinitionError(f"{filename}.instruments: must be a mapping")
    rules: dict[str, OutcomeRule] = {}
    for iid, body in insts.items():
        w = f"{filename}.instruments.{iid}"
        if iid not in INSTRUMENT_IDS:
            raise DefinitionError(f"{w}: unknown instrument")
        if not isinstance(body, dict):
            raise DefinitionError(f"{w}: must be a mapping")
        resp: ResponseRule | None = None
        if body.get("response") is not None:
            r = body["response"]
            pct = r.get("reduction_pct") if isinstance(r, dict) else None
            if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= 100:
                raise DefinitionError(f"{w}.response.reduction_pct: must be an integer 1-100")
            if not isinstance(r.get("source"), str) or not r["source"]:
                raise DefinitionError(f"{w}.response.source: required")
            resp = ResponseRule(reduction_pct=pct, source=r["source"])
        rem: RemissionRule | None = None
        if body.get("remission") is not None:
            m = body["remission"]
            if not isinstance(m, dict) or m.get("op") not in ("lt", "le"):
                raise DefinitionError(f"{w}.remission.op: must be lt or le")
            val = m.get("value")
            if isinstance(val, bool) or not isinstance(val, int):
                raise DefinitionError(f"{w}.remission.value: must be an integer")
            if not isinstance(m.get("source"), str) or not m["source"]:
                raise DefinitionError(f"{w}.remission.source: required")
            rem = RemissionRule(op=m["op"], value=val, source=m["source"])
        rules[str(iid)] = OutcomeRule(instrument_id=str(iid), response=resp, remission=rem)
    return OutcomeConfig(version=version, rules=rules)


@cache
def default_outcome_config() -> OutcomeConfig:
    """The packaged defaults (data/outcomes.yaml), cached."""
    text = resources.files("ketaclinic.core.instruments").joinpath("data", "outcomes.yaml").read_text("utf-8")
    return parse_outcome_config(load_yaml(text))


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _pct(baseline: float, value: float) -> Decimal:
    return ((_dec(value) - _dec(baseline)) * 100 / _dec(baseline)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _responds(baseline: float, value: float, rule: ResponseRule) -> bool:
    # reduction / baseline >= pct / 100, in exact decimal arithmetic (totals are integers or 2-decimal means)
    return (_dec(baseline) - _dec(value)) * 100 >= rule.reduction_pct * _dec(baseline)


def _change(baseline: float, value: float) -> float:
    diff = _dec(value) - _dec(baseline)
    return int(diff) if diff == diff.to_integral_value() else float(diff)


def assess_outcome(
    instrument_id: str,
    series: Sequence[ScorePoint],
    first_dose_at: datetime | None,
    *,
    config: OutcomeConfig | None = None,
) -> Outcome:
    """Compute baseline, change, response, remission and time to first response for one instrument.

    `series` holds complete scores only (any order). Times must be timezone-aware.
    """
    cfg = config or default_outcome_config()
    rule = cfg.rule_for(instrument_id)
    for p in series:
        if p.at.tzinfo is None:
            raise ValueError("series: datetimes must be timezone-aware")
    if first_dose_at is not None and first_dose_at.tzinfo is None:
        raise ValueError("first_dose_at: must be timezone-aware")
    pts = sorted(series, key=lambda p: p.at)
    notes: list[str] = []
    resp_rule = rule.response if rule else None
    rem_rule = rule.remission if rule else None
    if rule is None or (resp_rule is None and rem_rule is None):
        notes.append(f"No response/remission definition for {instrument_id}.")
    baseline: ScorePoint | None = None
    post: list[ScorePoint] = []
    if first_dose_at is None:
        notes.append("No dose given yet: baseline not fixed.")
    else:
        pre = [p for p in pts if p.at <= first_dose_at]
        post = [p for p in pts if p.at > first_dose_at]
        if pre:
            baseline = pre[-1]
            notes.append(
                f"Baseline {baseline.total} on {baseline.at.isoformat()} (last score before the first dose)."
            )
        else:
            notes.append("No score before the first dose: no baseline.")
    latest = post[-1] if post else None
    change = pct = None
    response: bool | None = None
    remission: bool | None = None
    first_resp: ScorePoint | None = None
    ttr: timedelta | None = None
    if baseline is not None and latest is not None:
        change = _change(baseline.total, latest.total)
        if baseline.total > 0:
            pct = _pct(baseline.total, latest.total)
    if resp_rule is not None and baseline is not None and latest is not None:
        if baseline.total == 0:
            notes.append("Baseline is 0: percentage response is not defined.")
        else:
            response = _responds(baseline.total, latest.total, resp_rule)
            notes.append(
                f"Response = reduction >= {resp_rule.reduction_pct}% from baseline ({resp_rule.source}): "
                f"{'met' if response else 'not met'} ({pct}%)."
            )
            for p in post:
                if _responds(baseline.total, p.total, resp_rule):
                    first_resp = p
                    assert first_dose_at is not None
                    ttr = p.at - first_dose_at
                    break
    if rem_rule is not None and latest is not None:
        remission = rem_rule.met(latest.total)
        notes.append(
            f"Remission = {rem_rule.describe()} ({rem_rule.source}): {'met' if remission else 'not met'} "
            f"(latest {latest.total})."
        )
    return Outcome(
        instrument_id=instrument_id,
        baseline=baseline,
        latest=latest,
        change=change,
        pct_change=pct,
        response=response,
        remission=remission,
        first_response=first_resp,
        time_to_first_response=ttr,
        explanation=tuple(notes),
        response_rule=resp_rule,
        remission_rule=rem_rule,
        config_version=cfg.version,
    )
