"""Dose-guard findings: the stable finding codes, the result object, and the collector the checks fill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ketaclinic.core.protocols.model import Level, Sourced

Decision = Literal["allow", "warn", "block"]
FindingCode = Literal[
    "weight_implausible",
    "dose_exceeds_max",
    "dose_above_protocol",
    "invalid_device_multiple",
    "interval_too_short",
    "cumulative_exceeded",
    "escalation_pattern",
    "deviates_from_order",
    "session_total_exceeded",
    "duration_exceeded",
    "rate_exceeded",
    "bolus_exceeded",
    "age_below_label",
    "age_under_18",
    "weight_changed",
]
FINDING_CODES: tuple[FindingCode, ...] = (
    "weight_implausible",
    "dose_exceeds_max",
    "dose_above_protocol",
    "invalid_device_multiple",
    "interval_too_short",
    "cumulative_exceeded",
    "escalation_pattern",
    "deviates_from_order",
    "session_total_exceeded",
    "duration_exceeded",
    "rate_exceeded",
    "bolus_exceeded",
    "age_below_label",
    "age_under_18",
    "weight_changed",
)
_RANK: dict[str, int] = {"allow": 0, "warn": 1, "block": 2}
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Finding:
    code: FindingCode
    level: Level
    message: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class DoseCheckResult:
    decision: Decision
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        """The dose-check output object of the command-line contract."""
        return {"decision": self.decision, "findings": [f.to_dict() for f in self.findings]}

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)


def fmt(x: float) -> str:
    """A number for a message: integers without decimals, others to at most 2 decimals."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if not float(x).is_integer() else f"{int(x)}"


class Collector:
    """Gathers findings; `result()` keeps one finding per code (its most severe) in first-raised order."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, code: FindingCode, level: Level, message: str, src: Sourced | str | None = None) -> None:
        source = src.cite() if isinstance(src, Sourced) else (src or "")
        full = f"{message} Source: {source}" if source else message
        self.items.append(Finding(code=code, level=level, message=full, source=source))

    def result(self) -> DoseCheckResult:
        best: dict[str, Finding] = {}
        for f in self.items:
            if f.code not in best or _RANK[f.level] > _RANK[best[f.code].level]:
                best[f.code] = f
        order: list[str] = []
        for f in self.items:
            if f.code not in order:
                order.append(f.code)
        merged: list[Finding] = []
        for c in order:
            top = best[c]
            others = [f.message for f in self.items if f.code == c and f is not top]
            msg = " Also: ".join([top.message, *others])
            merged.append(Finding(code=top.code, level=top.level, message=msg, source=top.source))
        findings = tuple(merged)
        decision: Decision = "allow"
        for f in findings:
            if _RANK[f.level] > _RANK[decision]:
                decision = f.level
        return DoseCheckResult(decision=decision, findings=findings)
