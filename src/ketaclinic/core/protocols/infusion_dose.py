"""The dose an infusion actually gave: its rate times the time it ran, pauses excluded.

An infusion of `dose_mg` over `duration_min` runs at dose_mg / duration_min mg a minute. Stopped early, the
patient received that rate times the minutes it ran between its start and its end, less every pause (a pause
still open at the end counts until the end). The result never exceeds the ordered dose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class InfusionRun:
    planned_mg: Decimal
    given_mg: Decimal
    ran_min: Decimal  # minutes running (pauses excluded), to 0.1 min
    paused_min: Decimal  # minutes paused between start and end, to 0.1 min
    planned_end: dt.datetime  # start + duration + pauses so far: when the full dose would have run in

    @property
    def early(self) -> bool:
        return self.given_mg < self.planned_mg


def _overlap(a0: dt.datetime, a1: dt.datetime, b0: dt.datetime, b1: dt.datetime) -> dt.timedelta:
    lo, hi = max(a0, b0), min(a1, b1)
    return hi - lo if hi > lo else dt.timedelta(0)


def infusion_run(
    *,
    dose_mg: Decimal,
    duration_min: int,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    pauses: list[tuple[dt.datetime, dt.datetime | None]],
) -> InfusionRun:
    """What an infusion started at `started_at` gave by `ended_at` (mg to 0.01 mg)."""
    if duration_min <= 0:
        raise ValueError("duration_min must be above 0")
    if ended_at < started_at:
        raise ValueError("ended_at is before started_at")
    paused = sum((_overlap(started_at, ended_at, p0, p1 or ended_at) for p0, p1 in pauses), dt.timedelta(0))
    ran = (ended_at - started_at) - paused
    ran_min = Decimal(ran.total_seconds()) / Decimal(60)
    rate = dose_mg / Decimal(duration_min)
    given = min(dose_mg, rate * ran_min).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    q = Decimal("0.1")
    return InfusionRun(
        planned_mg=dose_mg,
        given_mg=given,
        ran_min=ran_min.quantize(q, rounding=ROUND_HALF_UP),
        paused_min=(Decimal(paused.total_seconds()) / Decimal(60)).quantize(q, rounding=ROUND_HALF_UP),
        planned_end=started_at + dt.timedelta(minutes=duration_min) + paused,
    )
