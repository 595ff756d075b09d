"""Seeded vital-sign simulator for demos and load tests: dose-related BP rise peaking near 40 min, desaturations.

Model (per simulated patient, all parameters drawn once from the seed):
- baselines: SBP ~ N(124, 12), DBP ~ N(78, 8), HR ~ N(74, 9), SpO2 ~ U(96, 99), RR ~ N(14, 2), T ~ N(36.8, 0.25);
- dose response: baseline + A * f(t), with f(t) = (t/tp)^2 * exp(2 (1 - t/tp)), tp = 40 min, so f peaks at 1
  at 40 min and is < 2 % by 4 h, matching the label (peak ~40 min, lasting ~4 h) and the Yale series
  (mean peak rise +16/+11 mmHg). A ~ N(16, 8) / N(11, 5) mmHg; a "hypertensive responder" (p = 0.12,
  within the label's 8–19 % with a >=40/25 mmHg rise) gets A ~ N(48, 6) / N(30, 4). HR rises 5 bpm * f(t).
- noise: an AR(1) physiological wander per metric plus white measurement noise;
- desaturation: Poisson events at 0.6 per patient-hour, depth U(5, 12) points, lasting U(20, 90) s with a
  10 s fall and 15 s recovery; RR drops by up to 4 /min during the event.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ketaclinic.core.monitoring.catalog import load_catalog

PEAK_MINUTES = 40.0
_SHAPE_K = 2.0
DEFAULT_METRICS: tuple[str, ...] = ("sbp", "dbp", "hr", "spo2", "rr")
_DIGITS = {"sbp": 0, "dbp": 0, "hr": 0, "spo2": 0, "rr": 0, "temp": 1}


def bp_rise_fraction(minutes_since_dose: float) -> float:
    """Share of the peak BP rise present `minutes_since_dose` after dosing (0 before dosing, 1 at 40 min)."""
    if minutes_since_dose <= 0:
        return 0.0
    u = minutes_since_dose / PEAK_MINUTES
    return float(u**_SHAPE_K * math.exp(_SHAPE_K * (1.0 - u)))


@dataclass(frozen=True, slots=True)
class PatientProfile:
    baseline: dict[str, float]
    sbp_rise: float
    dbp_rise: float
    hypertensive_responder: bool


@dataclass(frozen=True, slots=True)
class SimReading:
    metric: str
    code: str
    value: float
    unit: str
    time: datetime
    seq: int

    def compact(self, *, device: str, session: str) -> dict[str, Any]:
        """The reading in the ingestion API's compact form."""
        return {
            "device": device,
            "session": session,
            "metric": self.code,
            "value": self.value,
            "unit": self.unit,
            "time": self.time.isoformat(),
            "seq": self.seq,
        }


def draw_profile(rng: random.Random) -> PatientProfile:
    responder = rng.random() < 0.12
    baseline = {
        "sbp": min(165.0, max(95.0, rng.gauss(124, 12))),
        "dbp": min(100.0, max(55.0, rng.gauss(78, 8))),
        "hr": min(100.0, max(50.0, rng.gauss(74, 9))),
        "spo2": rng.uniform(96, 99),
        "rr": min(20.0, max(10.0, rng.gauss(14, 2))),
        "temp": rng.gauss(36.8, 0.25),
    }
    if responder:
        sbp_rise, dbp_rise = rng.gauss(48, 6), rng.gauss(30, 4)
    else:
        sbp_rise, dbp_rise = max(0.0, rng.gauss(16, 8)), max(0.0, rng.gauss(11, 5))
    return PatientProfile(
        baseline=baseline, sbp_rise=sbp_rise, dbp_rise=dbp_rise, hypertensive_responder=responder
    )


_WANDER = {"sbp": 2.0, "dbp": 1.5, "hr": 1.5, "spo2": 0.3, "rr": 0.4, "temp": 0.02}
_NOISE = {"sbp": 2.5, "dbp": 2.0, "hr": 1.5, "spo2": 0.5, "rr": 0.6, "temp": 0.05}


class VitalsSimulator:
    """One simulated patient wearing a sensor. `tick()` returns one reading per metric, `1/rate_hz` s apart.

    Owned by one caller; deterministic for a given (seed, patient_index).
    """

    def __init__(
        self,
        *,
        seed: int,
        patient_index: int = 0,
        start: datetime,
        rate_hz: float = 1.0,
        minutes_since_dose: float = 0.0,
        metrics: tuple[str, ...] = DEFAULT_METRICS,
        desat_per_hour: float = 0.6,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not rate_hz > 0:
            raise ValueError("rate_hz must be greater than 0")
        cat = load_catalog()
        unknown = [m for m in metrics if m not in cat.by_key]
        if unknown:
            raise ValueError(f"unknown metrics: {', '.join(unknown)}")
        self._rng = random.Random(seed * 1_000_003 + patient_index)
        self.profile = draw_profile(self._rng)
        self._metrics = tuple((k, cat.by_key[k].code, cat.by_key[k].unit) for k in metrics)
        self._limits = {k: (cat.by_key[k].plausible_min, cat.by_key[k].plausible_max) for k in metrics}
        self._dt = 1.0 / rate_hz
        self._t0 = start
        self._elapsed = 0.0
        self._dose_offset_s = minutes_since_dose * 60.0
        self._wander = dict.fromkeys(metrics, 0.0)
        self._desat_rate = desat_per_hour / 3600.0
        self._desat: tuple[float, float, float] | None = None  # (start_s, duration_s, depth)
        self.seq = 0

    def _desat_drop(self, s: float) -> float:
        d = self._desat
        if d is None:
            if self._rng.random() < self._desat_rate * self._dt:
                self._desat = d = (s, self._rng.uniform(20, 90), self._rng.uniform(5, 12))
            else:
                return 0.0
        start, dur, depth = d
        into = s - start
        if into > dur + 15.0:
            self._desat = None
            return 0.0
        if into < 10.0:
            return depth * into / 10.0
        if into <= dur:
            return depth
        return depth * (1.0 - (into - dur) / 15.0)

    def tick(self) -> list[SimReading]:
        s = self._elapsed
        time = self._t0 + timedelta(seconds=s)
        f = bp_rise_fraction((s + self._dose_offset_s) / 60.0)
        drop = self._desat_drop(s) if "spo2" in self._wander else 0.0
        p = self.profile
        base = p.baseline
        rng = self._rng
        out: list[SimReading] = []
        for key, code, unit in self._metrics:
            w = 0.98 * self._wander[key] + rng.gauss(0.0, _WANDER[key] * 0.2)
            self._wander[key] = w
            v = base[key] + w + rng.gauss(0.0, _NOISE[key])
            if key == "sbp":
                v += p.sbp_rise * f
            elif key == "dbp":
                v += p.dbp_rise * f
            elif key == "hr":
                v += 5.0 * f
            elif key == "spo2":
                v = min(100.0, v - drop)
            elif key == "rr":
                v -= 4.0 * drop / 12.0
            lo, hi = self._limits[key]
            v = round(min(hi, max(lo, v)), _DIGITS[key])
            self.seq += 1
            out.append(SimReading(metric=key, code=code, value=v, unit=unit, time=time, seq=self.seq))
        self._elapsed = s + self._dt
        return out

    def stream(self, ticks: int) -> Iterator[SimReading]:
        for _ in range(ticks):
            yield from self.tick()
