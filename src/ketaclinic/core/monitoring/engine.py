"""Streaming alert engine: per-session rule state evaluated one reading at a time, with hysteresis and re-arm.

Ownership: a `SessionMonitor` holds the mutable state of one session and must be driven by one caller at a
time (the ingestion worker that owns the session). Everything that crosses its boundary (Reading in,
AlertEvent out) is a frozen dataclass. Time inside the engine is float epoch seconds for speed.

Several processes can share a session: `SessionMonitor.snapshot()` returns its whole state as plain JSON
data and `restore()` loads it, so the caller can keep the state in a database row, locked while one process
evaluates a batch (the web app does). Restoring a snapshot and then evaluating gives exactly the events the
process that took the snapshot would have produced.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ketaclinic.core.monitoring.catalog import MetricCatalog, load_catalog
from ketaclinic.core.monitoring.rules import Rule, RuleSet, RuleType, Severity
from ketaclinic.core.monitoring.validation import Reading

_NONE = 0
_FIRED = 1
_CLEARED = 2
_NEG_INF = float("-inf")

#: A snapshot's JSON-safe form: numbers, None for "never" (-inf), lists, keyed by rule id.
StateSnapshot = dict[str, object]


def _t_out(t: float) -> float | None:
    return None if t == _NEG_INF else t


def _t_in(raw: object) -> float:
    return _NEG_INF if raw is None else float(raw)  # type: ignore[arg-type]


def _opt_in(raw: object) -> float | None:
    return None if raw is None else float(raw)  # type: ignore[arg-type]


class EventKind(StrEnum):
    FIRED = "fired"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule started (fired) or stopped (cleared) being true for a session, with its explanation."""

    kind: EventKind
    session: str
    rule_id: str
    rule_type: RuleType
    severity: Severity
    metric: str
    value: float
    unit: str
    time: datetime
    message: str
    source: str


class _State:
    """Base of the per-rule states. `step` returns _NONE, _FIRED or _CLEARED."""

    __slots__ = ("active", "clear_after", "normal_since", "rearm", "rearm_at", "rule")

    def __init__(self, rule: Rule, rearm: float, clear_after: float) -> None:
        self.rule = rule
        self.active = False
        self.rearm_at = _NEG_INF
        self.rearm = rearm
        self.clear_after = clear_after
        self.normal_since: float | None = None

    def _active_step(self, t: float, normal: bool) -> int:
        """While active: clear once the value has stayed normal (past exit) for `clear_after` seconds."""
        if not normal:
            self.normal_since = None
            return _NONE
        since = self.normal_since
        if since is None:
            self.normal_since = since = t
        if t - since >= self.clear_after:
            self.active = False
            self.normal_since = None
            self.rearm_at = t + self.rearm
            return _CLEARED
        return _NONE

    def step(self, t: float, v: float) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def dump(self) -> dict[str, object]:
        return {"active": self.active, "rearm_at": _t_out(self.rearm_at), "normal_since": self.normal_since}

    def load(self, raw: dict[str, object]) -> None:
        self.active = bool(raw.get("active", False))
        self.rearm_at = _t_in(raw.get("rearm_at"))
        self.normal_since = _opt_in(raw.get("normal_since"))


class _ThresholdState(_State):
    __slots__ = ("ceiling", "enter", "exit", "sign")

    def __init__(self, rule: Rule, rearm: float, clear_after: float, ceiling: float | None = None) -> None:
        super().__init__(rule, rearm, clear_after)
        # "below" rules are evaluated on -value so one comparison serves both directions.
        self.sign = 1.0 if rule.direction == "above" else -1.0
        self.enter = self.sign * rule.enter
        self.exit = self.sign * rule.exit
        # A warning row of the threshold table stands down past the critical row of the same vital and
        # direction (one alert per vital, as on the flowsheet): beyond `ceiling` it reads as normal.
        self.ceiling = math.inf if ceiling is None else self.sign * ceiling

    def _signed(self, v: float) -> float:
        x = self.sign * v
        return -math.inf if x > self.ceiling else x

    def step(self, t: float, v: float) -> int:
        x = self._signed(v)
        if self.active:
            return self._active_step(t, x <= self.exit)
        if x > self.enter and t >= self.rearm_at:
            self.active = True
            return _FIRED
        return _NONE


class _SustainedState(_ThresholdState):
    __slots__ = ("duration", "last_t", "max_gap", "pending_since")

    def __init__(
        self, rule: Rule, rearm: float, clear_after: float, max_gap: float, ceiling: float | None = None
    ) -> None:
        super().__init__(rule, rearm, clear_after, ceiling)
        self.duration = rule.duration_seconds
        self.max_gap = max_gap
        self.pending_since: float | None = None
        self.last_t = _NEG_INF

    def dump(self) -> dict[str, object]:
        return {**super().dump(), "pending_since": self.pending_since, "last_t": _t_out(self.last_t)}

    def load(self, raw: dict[str, object]) -> None:
        super().load(raw)
        self.pending_since = _opt_in(raw.get("pending_since"))
        self.last_t = _t_in(raw.get("last_t"))

    def step(self, t: float, v: float) -> int:
        x = self._signed(v)
        gap = t - self.last_t
        self.last_t = t
        if self.active:
            return self._active_step(t, x <= self.exit)
        since = self.pending_since
        # A pending condition survives noise inside the hysteresis band but not a return to normal
        # or a gap in the data (we cannot claim "sustained" across readings we never saw).
        if since is not None and (x <= self.exit or gap > self.max_gap):
            since = None
        if since is None:
            if x <= self.enter:
                self.pending_since = None
                return _NONE
            since = t
        self.pending_since = since
        if t - since >= self.duration and t >= self.rearm_at:
            self.active = True
            self.pending_since = None
            return _FIRED
        return _NONE


class _RateState(_State):
    __slots__ = ("delta", "duration", "exit_delta", "pending_since", "sign", "window", "window_min")

    def __init__(self, rule: Rule, rearm: float, clear_after: float) -> None:
        super().__init__(rule, rearm, clear_after)
        # rise: movement = value - min(window); fall: evaluated on -value, so the same monotonic deque works.
        self.sign = 1.0 if rule.direction == "rise" else -1.0
        self.delta = rule.delta
        self.exit_delta = rule.exit_delta
        self.window = rule.window_seconds
        self.duration = rule.duration_seconds
        self.pending_since: float | None = None
        # Monotonic deque of (t, x) with increasing x: its head is the window minimum (amortised O(1)).
        self.window_min: deque[tuple[float, float]] = deque()

    def dump(self) -> dict[str, object]:
        return {
            **super().dump(),
            "pending_since": self.pending_since,
            "window_min": [[t, x] for t, x in self.window_min],
        }

    def load(self, raw: dict[str, object]) -> None:
        super().load(raw)
        self.pending_since = _opt_in(raw.get("pending_since"))
        points = raw.get("window_min")
        self.window_min = deque(
            (float(p[0]), float(p[1])) for p in (points if isinstance(points, list) else [])
        )

    def step(self, t: float, v: float) -> int:
        x = self.sign * v
        dq = self.window_min
        cutoff = t - self.window
        while dq and dq[0][0] < cutoff:
            dq.popleft()
        while dq and dq[-1][1] >= x:
            dq.pop()
        dq.append((t, x))
        moved = x - dq[0][1]
        if self.active:
            return self._active_step(t, moved <= self.exit_delta)
        since = self.pending_since
        if since is not None and moved <= self.exit_delta:
            since = None
        if since is None:
            if moved < self.delta:
                self.pending_since = None
                return _NONE
            since = t
        self.pending_since = since
        if t - since >= self.duration and t >= self.rearm_at:
            self.active = True
            self.pending_since = None
            return _FIRED
        return _NONE

    def movement(self) -> float:
        if not self.window_min:
            return 0.0
        return self.window_min[-1][1] - self.window_min[0][1]


def _ceiling(rule: Rule, ruleset: RuleSet) -> float | None:
    """For a warning rule of the threshold table: the enter value of the nearest critical table rule on the
    same metric and direction (past it, the critical alert speaks for the vital), else None."""
    if rule.threshold is None or rule.severity is Severity.CRITICAL:
        return None
    sign = 1.0 if rule.direction == "above" else -1.0
    worse = [
        r.enter
        for r in ruleset.rules
        if r.threshold is not None
        and r.severity is Severity.CRITICAL
        and r.metric == rule.metric
        and r.direction == rule.direction
    ]
    return min(worse, key=lambda e: sign * e) if worse else None


def _make_state(rule: Rule, ruleset: RuleSet) -> _State:
    rearm, clear_after = ruleset.rearm_seconds, ruleset.clear_after_seconds
    if rule.type is RuleType.THRESHOLD:
        return _ThresholdState(rule, rearm, clear_after, _ceiling(rule, ruleset))
    if rule.type is RuleType.SUSTAINED:
        return _SustainedState(rule, rearm, clear_after, ruleset.max_gap_seconds, _ceiling(rule, ruleset))
    return _RateState(rule, rearm, clear_after)


_EMPTY: tuple[AlertEvent, ...] = ()


class SessionMonitor:
    """The alert state of one session. Feed readings in time order per metric; late readings are skipped.

    A reading older than the newest already evaluated for the same metric cannot change the past
    evaluation, so it is not evaluated (it is still stored by the caller): `skipped_late` counts them.
    """

    __slots__ = ("_by_metric", "_labels", "_last_t", "_units", "ruleset", "session", "skipped_late")

    def __init__(self, session: str, ruleset: RuleSet, *, catalog: MetricCatalog | None = None) -> None:
        cat = catalog if catalog is not None else load_catalog()
        self.session = session
        self.ruleset = ruleset
        self.skipped_late = 0
        self._by_metric: dict[str, tuple[_State, ...]] = {}
        for rule in ruleset.rules:
            self._by_metric[rule.metric] = (*self._by_metric.get(rule.metric, ()), _make_state(rule, ruleset))
        self._last_t: dict[str, float] = {}
        self._units = {m.key: m.unit for m in cat.metrics}
        self._labels = {m.key: m.label for m in cat.metrics}

    def evaluate(self, reading: Reading) -> tuple[AlertEvent, ...]:
        """Advance every rule on this reading's metric; return the alerts that fired or cleared."""
        return self.evaluate_value(reading.metric, reading.value, reading.time)

    def evaluate_value(self, metric: str, value: float, time: datetime) -> tuple[AlertEvent, ...]:
        states = self._by_metric.get(metric)
        if states is None:
            return _EMPTY
        t = time.timestamp()
        last = self._last_t.get(metric)
        if last is not None and t < last:
            self.skipped_late += 1
            return _EMPTY
        self._last_t[metric] = t
        out: list[AlertEvent] | None = None
        for st in states:
            r = st.step(t, value)
            if r:
                if out is None:
                    out = []
                out.append(self._event(st, r, value, time))
        return tuple(out) if out else _EMPTY

    def _event(self, st: _State, result: int, value: float, time: datetime) -> AlertEvent:
        rule = st.rule
        unit = self._units[rule.metric]
        label = self._labels[rule.metric]
        kind = EventKind.FIRED if result == _FIRED else EventKind.CLEARED
        if rule.type is RuleType.RATE_OF_CHANGE:
            assert isinstance(st, _RateState)
            cond = f"{rule.direction} of {st.movement():g} {unit} within {rule.window_seconds:g} s (limit {rule.delta:g})"
        elif rule.type is RuleType.SUSTAINED:
            cond = f"{rule.direction} {rule.enter:g} {unit} for ≥{rule.duration_seconds:g} s"
        else:
            cond = f"{rule.direction} {rule.enter:g} {unit}"
        if kind is EventKind.FIRED:
            message = f"{label} {cond}: now {value:g} {unit}"
        else:
            message = f"{label} back to normal ({value:g} {unit}); cleared rule {rule.id}"
        return AlertEvent(
            kind=kind,
            session=self.session,
            rule_id=rule.id,
            rule_type=rule.type,
            severity=rule.severity,
            metric=rule.metric,
            value=value,
            unit=unit,
            time=time,
            message=message,
            source=rule.source,
        )

    def snapshot(self) -> StateSnapshot:
        """The whole mutable state as JSON-safe data (for storage shared by several processes)."""
        return {
            "ruleset": f"{self.ruleset.id}@{self.ruleset.version}",
            "last_t": dict(self._last_t),
            "skipped_late": self.skipped_late,
            "rules": {st.rule.id: st.dump() for states in self._by_metric.values() for st in states},
        }

    def restore(self, snap: StateSnapshot) -> None:
        """Load a `snapshot()`. Rules the snapshot does not know (another rule-set version) start fresh."""
        last_t = snap.get("last_t")
        if isinstance(last_t, dict):
            self._last_t = {str(k): float(v) for k, v in last_t.items()}
        skipped = snap.get("skipped_late")
        self.skipped_late = skipped if isinstance(skipped, int) else 0
        rules = snap.get("rules")
        if not isinstance(rules, dict):
            return
        for states in self._by_metric.values():
            for st in states:
                raw = rules.get(st.rule.id)
                if isinstance(raw, dict):
                    st.load(raw)

    def active_rule_ids(self) -> list[str]:
        return [st.rule.id for states in self._by_metric.values() for st in states if st.active]

    def mark_active(self, rule_ids: Iterable[str]) -> None:
        """Restore alerts already open in storage (after a restart) so they are not fired a second time."""
        wanted = set(rule_ids)
        for states in self._by_metric.values():
            for st in states:
                if st.rule.id in wanted:
                    st.active = True

    def set_open(self, rule_ids: Iterable[str]) -> None:
        """Make the active rules exactly `rule_ids` (the alerts open in storage): open ones stay quiet, and a
        rule whose alert was closed elsewhere may fire again (after its re-arm time)."""
        wanted = set(rule_ids)
        for states in self._by_metric.values():
            for st in states:
                is_open = st.rule.id in wanted
                if st.active and not is_open:
                    st.normal_since = None
                st.active = is_open


class AlertEngine:
    """Session monitors keyed by session id; `ruleset_for(session)` supplies each session's rule set."""

    __slots__ = ("_catalog", "_monitors", "_ruleset_for")

    def __init__(
        self, ruleset_for: Callable[[str], RuleSet], *, catalog: MetricCatalog | None = None
    ) -> None:
        self._ruleset_for = ruleset_for
        self._catalog = catalog if catalog is not None else load_catalog()
        self._monitors: dict[str, SessionMonitor] = {}

    def monitor(self, session: str) -> SessionMonitor:
        m = self._monitors.get(session)
        if m is None:
            m = SessionMonitor(session, self._ruleset_for(session), catalog=self._catalog)
            self._monitors[session] = m
        return m

    def has(self, session: str) -> bool:
        return session in self._monitors

    def evaluate(self, reading: Reading) -> tuple[AlertEvent, ...]:
        m = self._monitors.get(reading.session)
        if m is None:
            m = self.monitor(reading.session)
        return m.evaluate_value(reading.metric, reading.value, reading.time)

    def replace(self, session: str) -> SessionMonitor:
        """A fresh monitor for `session`, discarding any state this engine held for it."""
        m = SessionMonitor(session, self._ruleset_for(session), catalog=self._catalog)
        self._monitors[session] = m
        return m

    def drop(self, session: str) -> None:
        """Forget a session (discharged)."""
        self._monitors.pop(session, None)

    def __len__(self) -> int:
        return len(self._monitors)


def escalation_due(*, severity: Severity, fired_at: datetime, now: datetime, ruleset: RuleSet) -> bool:
    """True when an unacknowledged alert of `severity` fired at `fired_at` must escalate at `now`."""
    return (now - fired_at).total_seconds() >= ruleset.escalation.due_after(severity)
