"""Streaming alert engine: threshold, sustained and rate-of-change rules, hysteresis, re-arm, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.monitoring import (
    AlertEngine,
    EventKind,
    RuleSet,
    SessionMonitor,
    Severity,
    escalation_due,
    load_default_ruleset,
    parse_ruleset,
)

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)

THRESHOLD = {"id": "sbp-high", "type": "threshold", "metric": "sbp", "direction": "above", "enter": 180,
             "exit": 170, "severity": "critical", "source": "test"}  # fmt: skip
SUSTAINED = {"id": "spo2-low", "type": "sustained", "metric": "spo2", "direction": "below", "enter": 92,
             "exit": 94, "duration_seconds": 15, "severity": "warning", "source": "test"}  # fmt: skip
RATE = {"id": "spo2-drop", "type": "rate_of_change", "metric": "spo2", "direction": "fall", "delta": 4,
        "exit_delta": 2, "window_seconds": 60, "severity": "warning", "source": "test"}  # fmt: skip
RISE = {"id": "sbp-rise", "type": "rate_of_change", "metric": "sbp", "direction": "rise", "delta": 40,
        "exit_delta": 30, "window_seconds": 5400, "severity": "warning", "source": "test"}  # fmt: skip


def _ruleset(
    *rules: dict[str, Any], rearm: float = 0, clear_after: float = 0, max_gap: float = 30
) -> RuleSet:
    return parse_ruleset(
        {
            "id": "t", "version": "1", "description": "test",
            "max_gap_seconds": max_gap, "max_gap_source": "s",
            "rearm_seconds": rearm, "rearm_source": "s",
            "clear_after_seconds": clear_after, "clear_after_source": "s",
            "escalation": {"critical": {"ack_within_seconds": 60, "source": "s"},
                           "warning": {"ack_within_seconds": 180, "source": "s"}},
            "rules": list(rules),
        }
    )  # fmt: skip


def _run(mon: SessionMonitor, metric: str, series: list[tuple[float, float]]) -> list[tuple[float, str, str]]:
    """Feed (seconds, value) pairs; return (seconds, kind, rule id) of every event."""
    out = []
    for s, v in series:
        for e in mon.evaluate_value(metric, v, T0 + timedelta(seconds=s)):
            out.append(((e.time - T0).total_seconds(), e.kind.value, e.rule_id))
    return out


def test_threshold_fires_once_and_clears_past_exit() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    series = [(0, 150), (1, 181), (2, 190), (3, 175), (4, 185), (5, 170), (6, 181)]
    assert _run(mon, "sbp", series) == [
        (1, "fired", "sbp-high"),
        (5, "cleared", "sbp-high"),
        (6, "fired", "sbp-high"),
    ]


def test_threshold_at_exactly_enter_does_not_fire() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    assert _run(mon, "sbp", [(0, 180), (1, 180.0)]) == []


def test_hysteresis_noisy_signal_around_enter_gives_one_alert() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    noisy = [(i, 182 if i % 2 else 176) for i in range(100)]  # flips across 180 but never below 170
    assert _run(mon, "sbp", noisy) == [(1, "fired", "sbp-high")]


def test_rearm_blocks_refire_for_rearm_seconds() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD, rearm=60))
    series = [(0, 185), (10, 160), (20, 185), (69, 185), (70, 186)]
    assert _run(mon, "sbp", series) == [
        (0, "fired", "sbp-high"),
        (10, "cleared", "sbp-high"),
        (70, "fired", "sbp-high"),
    ]


def test_clear_after_needs_continuous_normal_values() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD, clear_after=30))
    series = [(0, 185), (10, 165), (30, 165), (35, 172), (40, 165), (69, 165), (70, 165)]
    # normal from 10 s, interrupted at 35 s (172 is above exit 170), normal again from 40 s: clears at 70 s
    assert _run(mon, "sbp", series) == [(0, "fired", "sbp-high"), (70, "cleared", "sbp-high")]


def test_sustained_fires_after_duration_and_not_before() -> None:
    mon = SessionMonitor("s1", _ruleset(SUSTAINED))
    series = [(s, 90) for s in range(0, 15)] + [(15, 91), (16, 95)]
    assert _run(mon, "spo2", series) == [(15, "fired", "spo2-low"), (16, "cleared", "spo2-low")]


def test_sustained_single_dip_does_not_fire() -> None:
    mon = SessionMonitor("s1", _ruleset(SUSTAINED))
    series = [(s, 85 if s == 5 else 97) for s in range(60)]
    assert _run(mon, "spo2", series) == []


def test_sustained_pending_survives_noise_inside_band_but_resets_on_normal() -> None:
    mon = SessionMonitor("s1", _ruleset(SUSTAINED))
    # 93 is inside the band (above enter 92, below exit 94): the pending condition continues.
    inside = [(0, 90), (5, 93), (10, 91), (15, 91)]
    assert _run(mon, "spo2", inside) == [(15, "fired", "spo2-low")]
    mon2 = SessionMonitor("s2", _ruleset(SUSTAINED))
    # 95 is past exit: the clock restarts at 10 s, so 20 s is not enough, 25 s is.
    reset = [(0, 90), (5, 95), (10, 90), (20, 90), (25, 90)]
    assert _run(mon2, "spo2", reset) == [(25, "fired", "spo2-low")]


def test_sustained_gap_in_readings_restarts_the_clock() -> None:
    mon = SessionMonitor("s1", _ruleset(SUSTAINED, max_gap=5))
    series = [(0, 90), (4, 90), (12, 90), (16, 90), (27, 90)]
    # 4 -> 12 is an 8 s gap (> 5): pending restarts at 12; 16 -> 27 is another gap: restarts at 27.
    assert _run(mon, "spo2", series) == []
    assert _run(mon, "spo2", [(31, 90), (35, 90), (39, 90), (42, 90)]) == [(42, "fired", "spo2-low")]


def test_rate_of_change_fall_within_window() -> None:
    mon = SessionMonitor("s1", _ruleset(RATE))
    series = [(0, 98), (10, 97), (20, 95), (30, 94), (40, 94), (50, 96), (60, 97)]
    # 98 -> 94 is a fall of 4 within 30 s: fires; at 50 s the fall from the window max (98) is 2: clears.
    assert _run(mon, "spo2", series) == [(30, "fired", "spo2-drop"), (50, "cleared", "spo2-drop")]


def test_rate_of_change_slow_drift_outside_window_does_not_fire() -> None:
    mon = SessionMonitor("s1", _ruleset(RATE))
    series = [(s * 30, 98 - s) for s in range(6)]  # 1 point per 30 s: 2 points per 60 s window
    assert _run(mon, "spo2", series) == []


def test_rate_of_change_rise_uses_lowest_value_in_window() -> None:
    mon = SessionMonitor("s1", _ruleset(RISE))
    series = [(0, 130), (600, 120), (1800, 150), (2400, 161), (5400, 155), (6100, 160)]
    # 161 - 120 = 41 >= 40 fires at 2400 s; at 6100 s the 120 at 600 s has left the window (5400 s):
    # the window minimum is 150, movement 10 <= 30: clears.
    assert _run(mon, "sbp", series) == [(2400, "fired", "sbp-rise"), (6100, "cleared", "sbp-rise")]


def test_rate_of_change_with_persistence_ignores_one_artefact() -> None:
    mon = SessionMonitor("s1", _ruleset({**RATE, "duration_seconds": 10}))
    assert _run(mon, "spo2", [(0, 98), (1, 85), (2, 98), (3, 98)]) == []
    series = [(10, 97), (11, 93), (15, 94), (21, 93)]  # fall of 5 from 98 at 11 s, held (> exit 2) until 21 s
    assert _run(mon, "spo2", series) == [(21, "fired", "spo2-drop")]


def test_late_reading_is_skipped_not_evaluated() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    assert _run(mon, "sbp", [(10, 150), (5, 190)]) == []
    assert mon.skipped_late == 1
    assert _run(mon, "sbp", [(11, 190)]) == [(11, "fired", "sbp-high")]


def test_unknown_metric_for_ruleset_is_ignored() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    assert _run(mon, "temp", [(0, 41.0)]) == []


def test_event_explains_itself() -> None:
    mon = SessionMonitor("s1", _ruleset(SUSTAINED))
    events = [e for s in range(16) for e in mon.evaluate_value("spo2", 89, T0 + timedelta(seconds=s))]
    assert len(events) == 1
    e = events[0]
    assert (e.kind, e.session, e.rule_id, e.severity, e.metric, e.value, e.unit) == (
        EventKind.FIRED, "s1", "spo2-low", Severity.WARNING, "spo2", 89.0, "%",
    )  # fmt: skip
    assert e.message == "SpO2 below 92 % for ≥15 s: now 89 %"
    assert e.source == "test"
    assert e.time == T0 + timedelta(seconds=15)


def test_mark_active_prevents_a_second_alert_after_restart() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD))
    mon.mark_active(["sbp-high"])
    assert mon.active_rule_ids() == ["sbp-high"]
    assert _run(mon, "sbp", [(0, 190), (1, 160)]) == [(1, "cleared", "sbp-high")]


def test_engine_keeps_sessions_apart() -> None:
    rs = _ruleset(THRESHOLD)
    eng = AlertEngine(lambda s: rs)
    a = eng.monitor("a")
    assert _run(a, "sbp", [(0, 190)]) == [(0, "fired", "sbp-high")]
    assert _run(eng.monitor("b"), "sbp", [(0, 175)]) == []
    assert eng.monitor("a").active_rule_ids() == ["sbp-high"]
    assert eng.monitor("b").active_rule_ids() == []
    eng.drop("a")
    assert len(eng) == 1 and not eng.has("a")


def test_protocol_threshold_changes_what_fires() -> None:
    rs = load_default_ruleset().with_protocol_thresholds({"sbp_max": 160})
    mon = SessionMonitor("s1", rs)
    fired = _run(mon, "sbp", [(0, 120), (1, 165)])
    assert (1, "fired", "sbp-high") in fired


def test_escalation_due() -> None:
    rs = load_default_ruleset()
    fired = T0
    assert not escalation_due(
        severity=Severity.CRITICAL, fired_at=fired, now=T0 + timedelta(seconds=59), ruleset=rs
    )
    assert escalation_due(
        severity=Severity.CRITICAL, fired_at=fired, now=T0 + timedelta(seconds=60), ruleset=rs
    )
    assert not escalation_due(
        severity=Severity.WARNING, fired_at=fired, now=T0 + timedelta(seconds=179), ruleset=rs
    )
    assert escalation_due(
        severity=Severity.WARNING, fired_at=fired, now=T0 + timedelta(seconds=180), ruleset=rs
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=100, max_value=250), min_size=1, max_size=200))
def test_threshold_events_alternate_and_match_the_series(values: list[float]) -> None:
    """Property: fired/cleared alternate starting with fired; fired only above enter, cleared only at/below exit."""
    mon = SessionMonitor("s", _ruleset(THRESHOLD))
    kinds = []
    for i, v in enumerate(values):
        for e in mon.evaluate_value("sbp", v, T0 + timedelta(seconds=i)):
            kinds.append(e.kind)
            assert (e.value > 180) if e.kind is EventKind.FIRED else (e.value <= 170)
    assert kinds == [EventKind.FIRED, EventKind.CLEARED] * (len(kinds) // 2) + [EventKind.FIRED] * (
        len(kinds) % 2
    )
    assert mon.active_rule_ids() == (["sbp-high"] if len(kinds) % 2 else [])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=80, max_value=100), min_size=2, max_size=120))
def test_rate_of_change_matches_brute_force(values: list[float]) -> None:
    """Property: the monotonic-deque window maximum equals a brute-force scan (1 reading/10 s, 60 s window)."""
    mon = SessionMonitor("s", _ruleset(RATE))
    active = False
    for i, v in enumerate(values):
        window = [values[j] for j in range(len(values[: i + 1])) if (i - j) * 10 <= 60]
        moved = max(window) - v
        events = mon.evaluate_value("spo2", v, T0 + timedelta(seconds=10 * i))
        if not active and moved >= 4:
            assert [e.kind for e in events] == [EventKind.FIRED]
            active = True
        elif active and moved <= 2:
            assert [e.kind for e in events] == [EventKind.CLEARED]
            active = False
        else:
            assert events == ()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["sbp", "spo2"]), st.floats(min_value=60, max_value=230), st.floats(0.2, 40)
        ),
        min_size=1,
        max_size=80,
    )
)
def test_snapshot_and_restore_between_monitors_gives_the_same_events(
    steps: list[tuple[str, float, float]],
) -> None:
    """Two processes taking turns through a stored snapshot raise exactly what one process would."""
    import json

    rs = _ruleset(THRESHOLD, SUSTAINED, RATE, RISE, rearm=20, clear_after=10)
    single = SessionMonitor("s1", rs)
    t, expected, got = 0.0, [], []
    snap = SessionMonitor("s1", rs).snapshot()
    for i, (metric, value, dt_s) in enumerate(steps):
        t += dt_s
        at = T0 + timedelta(seconds=t)
        expected += [(e.kind, e.rule_id, e.time) for e in single.evaluate_value(metric, value, at)]
        turn = SessionMonitor("s1", rs)  # a process that only knows the stored state
        turn.restore(json.loads(json.dumps(snap, allow_nan=False)))
        got += [(e.kind, e.rule_id, e.time) for e in turn.evaluate_value(metric, value, at)]
        snap = turn.snapshot()
        assert turn.active_rule_ids() == single.active_rule_ids(), i
    assert got == expected


def test_set_open_follows_storage_both_ways() -> None:
    mon = SessionMonitor("s1", _ruleset(THRESHOLD, rearm=0, clear_after=0))
    assert _run(mon, "sbp", [(0, 190)]) == [(0, "fired", "sbp-high")]
    mon.set_open([])  # another process closed it
    assert _run(mon, "sbp", [(1, 191)]) == [(1, "fired", "sbp-high")]
    mon.set_open(["sbp-high"])
    assert _run(mon, "sbp", [(2, 192)]) == []
