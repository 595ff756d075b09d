"""Opioid sparing: load on a day from dated lines, change at 4/12 weeks, the clinic share and its denominator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ketaclinic.core.pain.sparing import (
    LoadPoint,
    OpioidLine,
    change_at,
    fell_by,
    load_on,
    load_series,
    sparing_share,
)

D0 = dt.date(2026, 3, 2)


def oxy(mg: int, start: dt.date, stop: dt.date | None = None) -> OpioidLine:
    return OpioidLine("7804", "oral", Decimal(mg), "mg", Decimal(2), start, stop)


def test_stop_day_is_the_first_day_without_the_line() -> None:
    taper = [oxy(20, D0, D0 + dt.timedelta(days=14)), oxy(10, D0 + dt.timedelta(days=14))]
    assert load_on(taper, D0 - dt.timedelta(days=1)) == LoadPoint(D0 - dt.timedelta(days=1), Decimal(0), True)
    assert load_on(taper, D0).total == 60
    assert load_on(taper, D0 + dt.timedelta(days=13)).total == 60
    assert load_on(taper, D0 + dt.timedelta(days=14)).total == 30


def test_series_has_a_point_at_each_change() -> None:
    taper = [
        oxy(20, D0, D0 + dt.timedelta(days=14)),
        oxy(10, D0 + dt.timedelta(days=14), D0 + dt.timedelta(days=40)),
    ]
    series = load_series(taper, D0, D0 + dt.timedelta(days=60))
    assert [(p.day - D0).days for p in series] == [0, 14, 40, 60]
    assert [p.total for p in series] == [60, 30, 0, 0]


def test_change_at_4_and_12_weeks() -> None:
    taper = [
        oxy(20, D0, D0 + dt.timedelta(days=21)),
        oxy(15, D0 + dt.timedelta(days=21), D0 + dt.timedelta(days=70)),
    ]
    today = D0 + dt.timedelta(days=90)
    four = change_at(taper, D0, 4, today)
    assert four is not None and (four.baseline.total, four.at.total, four.pct_change) == (
        60,
        45,
        Decimal("-25.0"),
    )
    twelve = change_at(taper, D0, 12, today)
    assert twelve is not None and (twelve.at.total, twelve.pct_change, twelve.comparable) == (
        0,
        Decimal("-100.0"),
        True,
    )
    assert change_at(taper, D0, 12, D0 + dt.timedelta(days=83)) is None  # not yet 12 weeks


def test_fell_by_is_exact() -> None:
    assert fell_by(Decimal(100), Decimal(75), 25) is True
    assert fell_by(Decimal(100), Decimal("75.01"), 25) is False
    assert fell_by(Decimal(60), Decimal(90), 25) is False


def test_share_counts_the_denominator_and_the_excluded_apart() -> None:
    def lp(total: str, complete: bool = True) -> LoadPoint:
        return LoadPoint(D0, Decimal(total), complete)

    share = sparing_share(
        [
            (lp("60"), lp("45")),  # fell 25 %: counts
            (lp("90"), lp("80")),  # fell 11 %: in the denominator only
            (lp("120"), lp("0")),  # off opioids: counts
            (lp("0"), lp("0")),  # no opioid at baseline: excluded
            (lp("30", complete=False), lp("0")),  # buprenorphine at baseline: excluded
        ]
    )
    assert (share.numerator, share.denominator, share.no_opioid_at_baseline, share.incomplete_load) == (
        2,
        3,
        1,
        1,
    )
    assert (share.rate, share.reduction_pct) == (Decimal("66.7"), 25)
    assert sparing_share([]).rate is None


def test_series_adds_a_point_on_each_visit_day() -> None:
    lines = [oxy(20, D0)]
    visits = [D0 + dt.timedelta(days=3), D0 + dt.timedelta(days=90)]  # the second is after the end: ignored
    series = load_series(lines, D0, D0 + dt.timedelta(days=10), visits=visits)
    assert [((p.day - D0).days, p.total) for p in series] == [(0, 60), (3, 60), (10, 60)]
