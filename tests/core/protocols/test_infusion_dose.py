"""The dose an infusion gave: rate x running time, pauses excluded, capped at the ordered dose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ketaclinic.core.protocols.infusion_dose import infusion_run

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


def _m(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_full_run_gives_the_ordered_dose() -> None:
    r = infusion_run(dose_mg=Decimal("35"), duration_min=40, started_at=T0, ended_at=_m(40), pauses=[])
    assert (r.given_mg, r.ran_min, r.paused_min, r.early, r.planned_end) == (
        Decimal("35.00"),
        Decimal("40.0"),
        Decimal("0.0"),
        False,
        _m(40),
    )


def test_late_end_is_capped_at_the_ordered_dose() -> None:
    r = infusion_run(dose_mg=Decimal("35"), duration_min=40, started_at=T0, ended_at=_m(55), pauses=[])
    assert (r.given_mg, r.early) == (Decimal("35.00"), False)


def test_early_end_excludes_pauses() -> None:
    # 0.875 mg/min; ran 30 min minus a 6-min pause = 24 min -> 21 mg
    r = infusion_run(
        dose_mg=Decimal("35"), duration_min=40, started_at=T0, ended_at=_m(30), pauses=[(_m(10), _m(16))]
    )
    assert (r.given_mg, r.ran_min, r.paused_min, r.early, r.planned_end) == (
        Decimal("21.00"),
        Decimal("24.0"),
        Decimal("6.0"),
        True,
        _m(46),
    )


def test_open_pause_counts_until_the_end_and_pauses_outside_do_not() -> None:
    r = infusion_run(
        dose_mg=Decimal("40"),
        duration_min=40,
        started_at=T0,
        ended_at=_m(20),
        pauses=[(_m(-5), _m(-1)), (_m(15), None)],
    )
    assert (r.given_mg, r.ran_min, r.paused_min) == (Decimal("15.00"), Decimal("15.0"), Decimal("5.0"))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="duration_min"):
        infusion_run(dose_mg=Decimal("35"), duration_min=0, started_at=T0, ended_at=_m(1), pauses=[])
    with pytest.raises(ValueError, match="before"):
        infusion_run(dose_mg=Decimal("35"), duration_min=40, started_at=T0, ended_at=_m(-1), pauses=[])
