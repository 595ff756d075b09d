"""What the outcomes page draws: mean score by week with 95 % bands, the waterfall, and durability of response.

- Week of a score: ceil(days since the first dose / 7) (day 0.5 and day 7 are week 1, day 7.01 week 2); week
  0 is the baseline. Each evaluable patient counts once per week, with their latest score in it.
- Mean by week with a 95 % confidence band: mean ± t(0.975, n-1) · sd / sqrt(n) (Student 1908); no band for a
  single patient. t comes from a table for 1-30 degrees of freedom and the Cornish-Fisher expansion beyond
  (Abramowitz & Stegun 1964, 26.7.5; error < 1e-6 from 30 on).
- Waterfall: each evaluable patient's % change from baseline at the latest score, worst first.
- Durability: of the patients who met the response criterion at a score on or before the end of induction
  (`induction_days` after the first dose), the share still meeting it W weeks later (each of
  `durability_weeks`), read from the score nearest that day within `durability_window_days` (the later one on
  a tie); a responder without a score in the window is left out of that point's denominator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ketaclinic.core.instruments.definitions import DefinitionError
from ketaclinic.core.outcomes.cohort import (
    Cohort,
    CohortRules,
    PatientOutcome,
    Proportion,
    Score,
    Split,
    days,
    proportion,
    split_cohort,
)
from ketaclinic.core.outcomes.stats import Z95

# Student t 0.975 quantiles for 1-30 degrees of freedom (scipy.stats.t.ppf, 4 decimals).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("t975: df must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True, slots=True)
class WeekMean:
    week: int
    n: int
    mean: float
    lo: float | None
    hi: float | None


@dataclass(frozen=True, slots=True)
class DurabilityPoint:
    weeks_after_induction: int
    day: int
    still_responding: Proportion


@dataclass(frozen=True, slots=True)
class DurabilitySettings:
    induction_days: int
    weeks: tuple[int, ...]
    window_days: int
    source: str


@cache
def durability_settings() -> DurabilitySettings:
    """The durability definition from the data file (`cohort` block of outcomes.yaml)."""
    text = resources.files("ketaclinic.core.instruments").joinpath("data", "outcomes.yaml").read_text("utf-8")
    raw: Any = yaml.safe_load(text)
    block = raw.get("cohort", {}) if isinstance(raw, dict) else {}
    ind, weeks, window = (
        block.get("induction_days"),
        block.get("durability_weeks"),
        block.get("durability_window_days"),
    )
    if isinstance(ind, bool) or not isinstance(ind, int) or ind < 1:
        raise DefinitionError("outcomes.yaml.cohort.induction_days: must be a positive integer")
    if (
        not isinstance(weeks, list)
        or not weeks
        or any(isinstance(w, bool) or not isinstance(w, int) for w in weeks)
    ):
        raise DefinitionError("outcomes.yaml.cohort.durability_weeks: must be a list of integers")
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise DefinitionError("outcomes.yaml.cohort.durability_window_days: must be a non-negative integer")
    source = f"{block.get('induction_source', '')} {block.get('durability_source', '')}".strip()
    return DurabilitySettings(induction_days=ind, weeks=tuple(weeks), window_days=window, source=source)


def week_of(delta: timedelta) -> int:
    """Week since the first dose of a post-dose score: ceil(days / 7)."""
    return max(1, math.ceil(delta / timedelta(days=7)))


def weekly_means(
    cohort: Cohort, rules: CohortRules, *, max_week: int = 12, splits: Sequence[Split] | None = None
) -> tuple[WeekMean, ...]:
    """Mean total by week since the first dose (week 0 = baseline) over evaluable patients, with 95 % bands."""
    per_week: dict[int, list[float]] = {}
    for p, baseline, post in splits if splits is not None else split_cohort(cohort, rules):
        if baseline is None or not post or p.first_dose is None:
            continue
        latest_in_week: dict[int, Score] = {0: baseline}
        for s in post:  # time order: a later score in the same week replaces an earlier one
            w = week_of(s.at - p.first_dose)
            if w <= max_week:
                latest_in_week[w] = s
        for w, s in latest_in_week.items():
            per_week.setdefault(w, []).append(float(s.total))
    return week_stats(per_week)


def week_stats(per_week: dict[int, list[float]]) -> tuple[WeekMean, ...]:
    """Mean and 95 % band of each week's values (summed in the order given)."""
    out: list[WeekMean] = []
    for w in sorted(per_week):
        values = per_week[w]
        n = len(values)
        mean = sum(values) / n
        if n < 2:
            out.append(WeekMean(week=w, n=n, mean=mean, lo=None, hi=None))
            continue
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = t975(n - 1) * sd / math.sqrt(n)
        out.append(WeekMean(week=w, n=n, mean=mean, lo=mean - half, hi=mean + half))
    return tuple(out)


def waterfall(outcomes: Sequence[PatientOutcome]) -> tuple[PatientOutcome, ...]:
    """Evaluable patients with a % change (baseline > 0), worst (largest rise) first."""
    rows = [p for p in outcomes if p.evaluable and p.pct_change is not None]
    return tuple(sorted(rows, key=lambda p: (-(p.pct_change or 0.0), str(p.id))))


def durability(
    cohort: Cohort,
    rules: CohortRules,
    settings: DurabilitySettings | None = None,
    *,
    splits: Sequence[Split] | None = None,
) -> tuple[int, tuple[DurabilityPoint, ...]]:
    """(induction responders, one point per `settings.weeks`)."""
    cfg = settings or durability_settings()
    induction = timedelta(days=cfg.induction_days)
    window = timedelta(days=cfg.window_days)
    responders: list[tuple[Score, list[Score], datetime]] = []
    for p, baseline, post in splits if splits is not None else split_cohort(cohort, rules):
        if baseline is None or p.first_dose is None:
            continue
        fd = p.first_dose
        if any(s.at - fd <= induction and rules.responds(baseline.total, s.total) for s in post):
            responders.append((baseline, post, fd))
    points: list[DurabilityPoint] = []
    for w in cfg.weeks:
        day = cfg.induction_days + 7 * w
        target = timedelta(days=day)
        k = n = 0
        for baseline, post, fd in responders:
            best: Score | None = None
            best_gap = window
            for s in post:  # time order: on a tie the later score wins
                gap = abs((s.at - fd) - target)
                if gap <= best_gap:
                    best, best_gap = s, gap
            if best is None:
                continue
            n += 1
            k += rules.responds(baseline.total, best.total)
        points.append(DurabilityPoint(weeks_after_induction=w, day=day, still_responding=proportion(k, n)))
    return len(responders), tuple(points)


__all__ = [
    "DurabilityPoint",
    "DurabilitySettings",
    "WeekMean",
    "days",
    "durability",
    "durability_settings",
    "t975",
    "waterfall",
    "week_of",
    "week_stats",
    "weekly_means",
]
