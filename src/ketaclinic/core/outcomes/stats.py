"""Small exact statistics for cohort outcomes: Wilson score intervals and the Kaplan-Meier estimator.

Wilson (1927) score interval for k successes in n trials, z = the 0.975 normal quantile:

    centre = (p + z^2 / 2n) / (1 + z^2 / n)
    half   = z * sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)        with p = k / n

Singular cases: n == 0 has no interval (None); k == 0 gives exactly 0 as the lower bound and k == n exactly 1
as the upper bound (the formula reaches them only up to rounding).

Kaplan-Meier (1958) product-limit estimator: at each distinct event time t_i with d_i events among the n_i
subjects still at risk, S(t) = prod over t_i <= t of (1 - d_i / n_i). A subject censored at t_i is still at
risk at t_i (events are counted before censorings at a tied time). Survival is kept as an exact fraction so
that "S <= 0.5" is decided without rounding. The median is the smallest event time at which S <= 1/2, with
no interpolation between steps; None when S never falls that far.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Generic, TypeVar

# The 0.975 quantile of the standard normal distribution (scipy.stats.norm.ppf(0.975)).
Z95 = 1.959963984540054

T = TypeVar("T", int, float, Fraction, timedelta)


def wilson_interval(k: int, n: int, *, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for k of n, or None when n == 0. Raises ValueError unless 0 <= k <= n."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson_interval: need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return None
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


@dataclass(frozen=True, slots=True)
class KMStep(Generic[T]):
    """One distinct event time: subjects at risk just before it, events at it, survival just after it."""

    time: T
    at_risk: int
    events: int
    censored: int
    survival: Fraction


@dataclass(frozen=True, slots=True)
class KMCurve(Generic[T]):
    """A Kaplan-Meier curve: the steps at event times (censor-only times are folded into the risk sets)."""

    n: int
    steps: tuple[KMStep[T], ...]

    @property
    def median(self) -> T | None:
        """The smallest event time with S <= 1/2 (no interpolation); None when S stays above 1/2."""
        for s in self.steps:
            if s.survival <= Fraction(1, 2):
                return s.time
        return None

    def survival_at(self, t: T) -> Fraction:
        """S(t): survival just after time t (1 before the first event)."""
        value = Fraction(1)
        for s in self.steps:
            if s.time > t:
                break
            value = s.survival
        return value


def kaplan_meier(observations: Iterable[tuple[T, bool]]) -> KMCurve[T]:
    """The Kaplan-Meier curve of (time, event) pairs; event False means censored at that time."""
    obs = sorted(observations, key=lambda o: o[0])
    n = len(obs)
    steps: list[KMStep[T]] = []
    at_risk = n
    survival = Fraction(1)
    i = 0
    while i < n:
        t = obs[i][0]
        events = censored = 0
        while i < n and obs[i][0] == t:
            if obs[i][1]:
                events += 1
            else:
                censored += 1
            i += 1
        if events:
            survival = survival * (1 - Fraction(events, at_risk))
            steps.append(KMStep(time=t, at_risk=at_risk, events=events, censored=censored, survival=survival))
        at_risk -= events + censored
    return KMCurve(n=n, steps=tuple(steps))
