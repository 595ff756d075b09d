"""A protocol's course plan (named phases of so many sessions) and where a session stands in it.

The plan is optional data in a protocol file (`course_plan`, each phase with its source):

    course_plan:
      - {phase: induction, sessions: 6, evidence: S, source: "..."}
      - {phase: maintenance, sessions: null, evidence: S, source: "..."}

`sessions: null` marks an open-ended phase (only the last one may be). Without a plan a session is only
counted ("session 4 of the course").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ketaclinic.core.protocols.model import Evidence, ProtocolError


@dataclass(frozen=True, slots=True)
class CoursePhase:
    name: str
    sessions: int | None  # None: open-ended (the last phase only)
    source: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class CoursePosition:
    """Session `number` of the course (1-based): its phase (None without a plan or past a closed plan),
    its place in that phase and the phase's planned session count (None when open-ended)."""

    number: int
    phase: str | None
    in_phase: int | None
    phase_sessions: int | None

    @property
    def text(self) -> str:
        """In words: "induction 3 of 6", "maintenance 2", "session 9 of the course"."""
        if self.phase is None or self.in_phase is None:
            return f"session {self.number} of the course"
        if self.phase_sessions is None:
            return f"{self.phase} {self.in_phase}"
        return f"{self.phase} {self.in_phase} of {self.phase_sessions}"


def course_plan(raw: Mapping[str, Any]) -> tuple[CoursePhase, ...]:
    """The validated `course_plan` of a protocol's source mapping (empty when it has none)."""
    items = raw.get("course_plan")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ProtocolError("course_plan", "must be a list of phases")
    out: list[CoursePhase] = []
    for i, item in enumerate(items):
        p = f"course_plan[{i}]"
        if not isinstance(item, Mapping):
            raise ProtocolError(p, "must be a mapping")
        name = item.get("phase")
        if not isinstance(name, str) or not name.strip():
            raise ProtocolError(f"{p}.phase", "is required")
        n = item.get("sessions")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ProtocolError(f"{p}.sessions", "must be a whole number above 0, or null for open-ended")
        if n is None and i != len(items) - 1:
            raise ProtocolError(f"{p}.sessions", "only the last phase may be open-ended")
        source = item.get("source")
        if not isinstance(source, str) or not source.strip():
            raise ProtocolError(f"{p}.source", "is required")
        evidence = item.get("evidence")
        if evidence not in ("V", "S", "R"):
            raise ProtocolError(f"{p}.evidence", "must be V, S or R")
        out.append(CoursePhase(name.strip(), n, source.strip(), evidence))
    return tuple(out)


def course_position(plan: tuple[CoursePhase, ...], number: int) -> CoursePosition:
    """Where session `number` (1-based) of a course falls in `plan`."""
    if number < 1:
        raise ValueError("number must be 1 or more")
    before = 0
    for phase in plan:
        if phase.sessions is None or number <= before + phase.sessions:
            return CoursePosition(number, phase.name, number - before, phase.sessions)
        before += phase.sessions
    return CoursePosition(number, None, None, None)
