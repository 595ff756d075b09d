"""Builders for surveillance HISTORY objects: days are offsets from a fixed first day (UTC)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ketaclinic.core.surveillance import SurveillanceResult, parse_history, surveil

DAY0 = date(2026, 1, 5)


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def ts(n: int, hour: int = 10) -> str:
    return f"{day(n).isoformat()}T{hour:02d}:00:00Z"


def dose(n: int, mg: float = 35.0, hour: int = 10) -> dict[str, Any]:
    return {"time": ts(n, hour), "drug": "ketamine", "route": "iv", "dose_mg": mg, "duration_min": 40}


def assess(
    instrument: str, n: int, total: float | None = None, answers: list[int] | None = None
) -> dict[str, Any]:
    a: dict[str, Any] = {"instrument": instrument, "time": ts(n, 9)}
    if total is not None:
        a["total"] = total
    if answers is not None:
        a["answers"] = answers
    return a


def obs(code: str, n: int, value: float | str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "time": ts(n, 9), "value": value, **extra}


def history(
    doses: list[dict[str, Any]] | None = None,
    assessments: list[dict[str, Any]] | None = None,
    observations: list[dict[str, Any]] | None = None,
    *,
    weight: float = 70.0,
    course_end: str | None = None,
) -> dict[str, Any]:
    h: dict[str, Any] = {
        "patient": {"weight_kg": weight},
        "doses": doses or [],
        "assessments": assessments or [],
        "observations": observations or [],
    }
    if course_end is not None:
        h["course_end"] = course_end
    return h


def run(h: dict[str, Any], on: int) -> SurveillanceResult:
    return surveil(parse_history(h), day(on))


def codes(result: SurveillanceResult, prefix: str = "") -> list[tuple[str, str]]:
    return [(f.code, f.level) for f in result.findings if f.code.startswith(prefix)]


def all_screens_done(n: int) -> list[dict[str, Any]]:
    """Assessments that meet every 90-day item on day `n` (and nothing alerting)."""
    return [assess("bpic-ss", n, total=4), assess("sds", n, total=0), assess("cognition", n, total=28)]
