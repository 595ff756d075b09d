"""Helpers for dose-guard tests: build contract-shaped requests and run the guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ketaclinic.core.protocols import DoseCheckResult, check_dose, get_protocol, parse_dose_request

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # a Monday


def at(hours: float = 0, days: float = 0) -> str:
    return (T0 + timedelta(hours=hours, days=days)).isoformat()


def dose(t: str, mg: float, *, drug: str = "ketamine", route: str = "iv", **extra: Any) -> dict[str, Any]:
    return {"time": t, "drug": drug, "route": route, "dose_mg": mg, **extra}


def esk(t: str, mg: float, **extra: Any) -> dict[str, Any]:
    return dose(t, mg, drug="esketamine", route="intranasal", **extra)


def request(
    protocol: str,
    proposed: dict[str, Any],
    history: list[dict[str, Any]] | None = None,
    weight: float = 70,
    birth_date: str | None = None,
) -> dict[str, Any]:
    patient: dict[str, Any] = {"weight_kg": weight}
    if birth_date:
        patient["birth_date"] = birth_date
    return {"patient": patient, "protocol": protocol, "history": history or [], "proposed": proposed}


def run(req: dict[str, Any]) -> DoseCheckResult:
    parsed = parse_dose_request(req)
    return check_dose(parsed, get_protocol(parsed.protocol_id))


def codes(result: DoseCheckResult) -> dict[str, str]:
    return {f.code: f.level for f in result.findings}
