"""The cohort engine's figures computed column-wise with numpy, for clinics with many thousands of patients.

Same definitions and exactly the same results as `cohort.analyse_cohort`, `trajectories.weekly_means` and
`trajectories.durability` (a property test compares them on random cohorts): times are whole microseconds since
the Unix epoch (int64), totals whole hundredths (int64), so every comparison is exact integer arithmetic, and
the per-patient outcomes and the weekly means are built from the same Python values the engine uses. Only the
per-score work (baseline, post-dose scores, first response, remission, week buckets, durability reads) is
vectorised; the aggregation (rates, Wilson intervals, Kaplan-Meier, t bands) is the engine's own code.

Input: `ScoreColumns`, the scores of every unit (course) in one set of parallel arrays sorted by unit, then
time, then the order the scores were given (of two scores at the same instant the later-listed counts as the
later, as in the engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from ketaclinic.core.outcomes.cohort import (
    Cohort,
    CohortResult,
    CohortRules,
    PatientOutcome,
    Score,
    Total,
    _not_evaluable,
    analyse_outcomes,
    proportion,
)
from ketaclinic.core.outcomes.trajectories import (
    DurabilityPoint,
    DurabilitySettings,
    WeekMean,
    durability_settings,
    week_stats,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
SCALE = 100  # totals are whole hundredths (PEG is a 2-decimal mean; every other scale is a whole number)

I64 = npt.NDArray[np.int64]


class NotExact(ValueError):
    """A total is not a whole number of hundredths; use the engine (`analyse_cohort`) instead."""


def to_us(at: datetime) -> int:
    """Whole microseconds since the Unix epoch of an aware datetime."""
    return (at - EPOCH) // US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def to_hundredths(total: Total | float) -> int:
    """A total as whole hundredths; NotExact when it is not one."""
    if isinstance(total, int):
        return total * SCALE
    f = total if isinstance(total, Fraction) else Fraction(repr(total))
    scaled = f * SCALE
    if scaled.denominator != 1:
        raise NotExact(f"total {total} is not a whole number of hundredths")
    return int(scaled)


def hundredths_of(totals: npt.NDArray[np.float64]) -> I64:
    """Stored float totals as whole hundredths; NotExact unless every one is a whole number of hundredths
    (then its shortest decimal form, which the engine reads exactly, has at most two decimals)."""
    h = np.rint(totals * SCALE)
    if not (h / SCALE == totals).all() or (np.abs(h) > 2**52).any():
        raise NotExact("a total is not a whole number of hundredths")
    return h.astype(np.int64)


def exact_from_hundredths(h: int) -> Total:
    q, r = divmod(h, SCALE)
    return q if r == 0 else Fraction(h, SCALE)


@dataclass(frozen=True, slots=True)
class ScoreColumns:
    """Every unit's scores: `unit[i]` (index into the units), `at_us[i]`, `total[i]` (hundredths), sorted by
    unit, then time, then given order."""

    unit: I64
    at_us: I64
    total: I64


@dataclass(frozen=True, slots=True)
class FastReport:
    result: CohortResult
    weekly_means: tuple[WeekMean, ...]
    induction_responders: int
    durability: tuple[DurabilityPoint, ...]


def columns_from_cohort(cohort: Cohort) -> tuple[list[str | int], list[datetime | None], ScoreColumns]:
    """A core Cohort as (unit ids, first doses, score columns)."""
    unit: list[int] = []
    at: list[int] = []
    tot: list[int] = []
    for i, p in enumerate(cohort.patients):
        for s in sorted(p.scores, key=lambda s: s.at):
            unit.append(i)
            at.append(to_us(s.at))
            tot.append(to_hundredths(s.total))
    cols = ScoreColumns(
        unit=np.asarray(unit, dtype=np.int64),
        at_us=np.asarray(at, dtype=np.int64),
        total=np.asarray(tot, dtype=np.int64),
    )
    return [p.id for p in cohort.patients], [p.first_dose for p in cohort.patients], cols


def _last_index(n_units: int, unit: I64, mask: npt.NDArray[np.bool_], idx: I64) -> I64:
    out = np.full(n_units, -1, dtype=np.int64)
    np.maximum.at(out, unit[mask], idx[mask])
    return out


def fast_outcomes(
    ids: Sequence[str | int],
    first_doses: Sequence[datetime | None],
    cols: ScoreColumns,
    rules: CohortRules,
    *,
    max_week: int = 12,
    settings: DurabilitySettings | None = None,
) -> FastReport:
    """The cohort result, weekly means and durability of the units, identical to the engine's."""
    cfg = settings or durability_settings()
    n_units = len(ids)
    n = int(cols.unit.shape[0])
    unit, t, v = cols.unit, cols.at_us, cols.total
    idx = np.arange(n, dtype=np.int64)
    has_fd_u = np.array([fd is not None for fd in first_doses], dtype=np.bool_)
    fd_u = np.array([0 if fd is None else to_us(fd) for fd in first_doses], dtype=np.int64)
    has_fd = has_fd_u[unit] if n else np.zeros(0, dtype=np.bool_)
    rel = t - fd_u[unit] if n else np.zeros(0, dtype=np.int64)
    window = rules.baseline_window // US
    is_base = has_fd & (rel <= 0) & (rel >= -window)
    is_post = has_fd & (rel > 0)
    base_idx = _last_index(n_units, unit, is_base, idx)
    last_idx = _last_index(n_units, unit, is_post, idx)
    bi = base_idx[unit] if n else np.zeros(0, dtype=np.int64)
    has_b = bi >= 0
    b = np.where(has_b, v[np.maximum(bi, 0)] if n else bi, 0)
    # (baseline - total) / baseline >= pct / 100, in whole hundredths on both sides.
    responds_row = is_post & has_b & (b > 0) & ((b - v) * 100 >= rules.response_pct * b)
    first_idx = np.full(n_units, n, dtype=np.int64)
    np.minimum.at(first_idx, unit[responds_row], idx[responds_row])
    remit_any = np.zeros(n_units, dtype=np.bool_)
    if rules.remission is not None:
        thr = rules.remission.value * SCALE
        remits_row = is_post & ((v < thr) if rules.remission.op == "lt" else (v <= thr))
        remit_any[unit[remits_row]] = True

    t_l, v_l = t.tolist(), v.tolist()
    base_l, last_l, first_l = base_idx.tolist(), last_idx.tolist(), first_idx.tolist()
    remit_l = remit_any.tolist()

    def score_at(i: int) -> Score:
        return Score(at=from_us(t_l[i]), total=exact_from_hundredths(v_l[i]))

    patients: list[PatientOutcome] = []
    for u in range(n_units):
        pid, fd = ids[u], first_doses[u]
        if fd is None:
            patients.append(_not_evaluable(pid, "no_first_dose", None))
            continue
        if base_l[u] < 0:
            patients.append(_not_evaluable(pid, "no_baseline", None))
            continue
        baseline = score_at(base_l[u])
        if last_l[u] < 0:
            patients.append(_not_evaluable(pid, "no_follow_up", baseline))
            continue
        latest = score_at(last_l[u])
        bt, lt = baseline.total, latest.total
        fu = fd_u[u].item()
        first = first_l[u]
        patients.append(
            PatientOutcome(
                id=pid,
                evaluable=True,
                not_evaluable_reason=None,
                baseline=baseline,
                latest=latest,
                pct_change=None if bt == 0 else float((lt - bt) * 100 / bt),
                response=first < n,
                remission=None if rules.remission is None else bool(remit_l[u]),
                response_last=rules.responds(bt, lt),
                remission_last=rules.remits(lt),
                time_to_response=None if first >= n else timedelta(microseconds=t_l[first] - fu),
                follow_up=timedelta(microseconds=t_l[last_l[u]] - fu),
            )
        )
    result = analyse_outcomes(patients, rules)

    # Mean by week: each evaluable unit once per week with its latest score in it; week 0 is the baseline.
    evaluable_u = has_fd_u & (base_idx >= 0) & (last_idx >= 0)
    weeks = max_week + 1
    week_us = timedelta(days=7) // US
    in_weeks = is_post & (evaluable_u[unit] if n else is_post)
    wk = np.maximum(1, np.ceil(rel / week_us)).astype(np.int64) if n else rel
    in_weeks &= wk <= max_week
    latest_in = np.full(n_units * weeks, -1, dtype=np.int64)
    np.maximum.at(latest_in, unit[in_weeks] * weeks + wk[in_weeks], idx[in_weeks])
    grid = latest_in.reshape(n_units, weeks)
    grid[:, 0] = np.where(evaluable_u, base_idx, -1)
    per_week: dict[int, list[float]] = {}
    for w in range(weeks):
        chosen = grid[:, w]
        chosen = chosen[chosen >= 0]
        if chosen.size:
            per_week[w] = (v[chosen] / SCALE).tolist()
    means = week_stats(per_week)

    # Durability: induction responders, then the score nearest each target day within the window.
    induction = timedelta(days=cfg.induction_days) // US
    win = timedelta(days=cfg.window_days) // US
    responder_u = np.zeros(n_units, dtype=np.bool_)
    responder_u[unit[responds_row & (rel <= induction)]] = True
    points: list[DurabilityPoint] = []
    for w in cfg.weeks:
        day = cfg.induction_days + 7 * w
        gap = np.abs(rel - timedelta(days=day) // US)
        cand = is_post & (responder_u[unit] if n else is_post) & (gap <= win)
        best_gap = np.full(n_units, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best_gap, unit[cand], gap[cand])
        at_best = cand & (gap == best_gap[unit]) if n else cand
        best = _last_index(n_units, unit, at_best, idx)
        best = best[best >= 0]
        k = int(responds_row[best].sum())
        points.append(
            DurabilityPoint(weeks_after_induction=w, day=day, still_responding=proportion(k, int(best.size)))
        )
    return FastReport(
        result=result,
        weekly_means=means,
        induction_responders=int(responder_u.sum()),
        durability=tuple(points),
    )
