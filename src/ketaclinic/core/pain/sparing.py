"""Opioid sparing: MME/day on any day from a dated medication list, change from baseline, the clinic's share.

A medication line is active on day d when start <= d and (stop is None or d < stop): the stop day is the
first day without it. MME/day on d is `calculate_mme` over the lines active on d. Change at N weeks compares
the load on baseline + 7N days with the load on the baseline day:

    pct_change = (mme_N - mme_0) / mme_0 x 100          (undefined when mme_0 = 0)

A patient counts towards the clinic share ("MME/day fell by >= R %", R from data/mme.yaml) only when the
baseline load is above 0 and both loads are complete (a buprenorphine or unconverted line makes the load a
lower bound, so its fall cannot be judged); the others are counted apart, by reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ketaclinic.core.pain.mme import MmeResult, MmeTable, calculate_mme, load_mme_table, parse_mme_request


@dataclass(frozen=True, slots=True)
class OpioidLine:
    """One dated medication line, in the `ketaclinic mme` medication shape."""

    rxcui: str
    route: str
    dose: Decimal
    unit: str
    doses_per_day: Decimal | None
    start: dt.date
    stop: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.stop is None or day < self.stop)

    def as_medication(self) -> dict[str, Any]:
        med: dict[str, Any] = {
            "rxcui": self.rxcui,
            "route": self.route,
            "dose": float(self.dose),
            "unit": self.unit,
        }
        if self.doses_per_day is not None:
            med["doses_per_day"] = float(self.doses_per_day)
        return med


@dataclass(frozen=True, slots=True)
class LoadPoint:
    day: dt.date
    total: Decimal
    complete: bool


@dataclass(frozen=True, slots=True)
class SparingChange:
    weeks: int
    baseline: LoadPoint
    at: LoadPoint
    pct_change: Decimal | None  # None when the baseline load is 0

    @property
    def comparable(self) -> bool:
        return self.baseline.complete and self.at.complete and self.baseline.total > 0


@dataclass(frozen=True, slots=True)
class SparingShare:
    """The clinic's share of pain patients whose MME/day fell by at least `reduction_pct` %."""

    reduction_pct: int
    source: str
    numerator: int
    denominator: int
    no_opioid_at_baseline: int
    incomplete_load: int

    @property
    def rate(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) * 100 / self.denominator).quantize(Decimal("0.1"), ROUND_HALF_UP)


def mme_on(
    lines: Sequence[OpioidLine],
    day: dt.date,
    *,
    benzodiazepine: bool = False,
    overdose_history: bool = False,
    table: MmeTable | None = None,
) -> MmeResult:
    """The opioid load of the lines active on `day` (raises MmeInputError if a stored line is invalid)."""
    table = table or load_mme_table()
    raw = {
        "medications": [ln.as_medication() for ln in lines if ln.active_on(day)],
        "benzodiazepine": benzodiazepine,
        "overdose_history": overdose_history,
    }
    return calculate_mme(parse_mme_request(raw, table), table)


def load_on(lines: Sequence[OpioidLine], day: dt.date, table: MmeTable | None = None) -> LoadPoint:
    r = mme_on(lines, day, table=table)
    return LoadPoint(day, r.total_mme_per_day, r.complete)


def load_series(
    lines: Sequence[OpioidLine],
    start: dt.date,
    end: dt.date,
    table: MmeTable | None = None,
    *,
    visits: Sequence[dt.date] = (),
) -> list[LoadPoint]:
    """The load on `start`, on every day in (start, end] where a line starts or stops or a visit falls, and on `end`."""
    days = {start, end} | {
        d for ln in lines for d in (ln.start, ln.stop) if d is not None and start < d <= end
    }
    days |= {d for d in visits if start <= d <= end}
    return [load_on(lines, d, table) for d in sorted(days)]


def pct_change(baseline: Decimal, value: Decimal) -> Decimal | None:
    if baseline == 0:
        return None
    return ((value - baseline) * 100 / baseline).quantize(Decimal("0.1"), ROUND_HALF_UP)


def change_at(
    lines: Sequence[OpioidLine],
    baseline_day: dt.date,
    weeks: int,
    today: dt.date,
    table: MmeTable | None = None,
) -> SparingChange | None:
    """The change in MME/day from the baseline day to `weeks` weeks later; None while that day is in the future."""
    day = baseline_day + dt.timedelta(weeks=weeks)
    if day > today:
        return None
    base = load_on(lines, baseline_day, table)
    at = load_on(lines, day, table)
    return SparingChange(weeks, base, at, pct_change(base.total, at.total))


def fell_by(baseline: Decimal, value: Decimal, reduction_pct: int) -> bool:
    """True when `value` is at least `reduction_pct` % below `baseline` (exact: 100 -> 75 is a 25 % fall)."""
    return (baseline - value) * 100 >= reduction_pct * baseline


def sparing_share(
    pairs: Sequence[tuple[LoadPoint, LoadPoint]], table: MmeTable | None = None
) -> SparingShare:
    """Count (baseline, current) load pairs of the clinic's pain patients against the data file's threshold."""
    table = table or load_mme_table()
    num = den = none = incomplete = 0
    for base, now in pairs:
        if not (base.complete and now.complete):
            incomplete += 1
        elif base.total <= 0:
            none += 1
        else:
            den += 1
            num += fell_by(base.total, now.total, table.sparing_reduction_pct)
    return SparingShare(table.sparing_reduction_pct, table.sparing_source, num, den, none, incomplete)
