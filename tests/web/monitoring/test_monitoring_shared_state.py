"""Alert rule state is shared through the database: readings of one session may reach any process.

Two processes are simulated in one test by two independent in-memory engines (`actions.ENGINE` swapped
between batches) over the same database: exactly what two `serve` processes share. The end-to-end version
with two real servers is tests/web/monitoring/test_monitoring_two_servers.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from tests.web.monitoring.monitoring_helpers import post, series

from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.models import Device, MonitoringAlert, SessionRuleState
from ketaclinic.web.treatment.models import DosingSession

TEMP = ("8310-5", "Cel")


@pytest.fixture
def on_process(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """`on_process("A")` makes the next calls run with process A's in-memory engine (B likewise)."""
    engines = {"A": actions._ProcessEngine(), "B": actions._ProcessEngine()}

    def switch(name: str) -> None:
        monkeypatch.setattr(actions, "ENGINE", engines[name])

    return switch


def _temps(device: Device, session: DosingSession, values: list[float], *, start: dt.datetime,
           seq0: int) -> list[dict[str, Any]]:  # fmt: skip
    return series(device, session, *TEMP, values, start=start, seq0=seq0)


def test_a_breach_after_another_process_cleared_the_alert_fires_again(
    attached: Device, session: DosingSession, token: str, on_process: Callable[[str], None]
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=10)
    on_process("A")
    r = post(token, _temps(attached, session, [38.9], start=t0, seq0=1)).json()
    assert [a["rule_id"] for a in r["alerts"]] == ["temp-high"]
    on_process("B")  # 31 s back to normal, received by the other process: it clears the alert
    r = post(token, _temps(attached, session, [37.0] * 31, start=t0 + dt.timedelta(seconds=1), seq0=2)).json()
    assert [(a["rule_id"], a["kind"]) for a in r["alerts"]] == [("temp-high", "cleared")]
    assert MonitoringAlert.objects.get().cleared_at == t0 + dt.timedelta(seconds=31)
    on_process("A")  # after the re-arm time, a new fever reaches the first process: it must alert
    r = post(token, _temps(attached, session, [38.9, 39.0, 39.1], start=t0 + dt.timedelta(seconds=100),
                           seq0=40)).json()  # fmt: skip
    assert [(a["rule_id"], a["kind"]) for a in r["alerts"]] == [("temp-high", "fired")]
    open_alerts = MonitoringAlert.objects.filter(cleared_at__isnull=True)
    assert [(a.rule_id, a.value) for a in open_alerts] == [("temp-high", 38.9)]
    assert MonitoringAlert.objects.count() == 2


def test_alternating_readings_fire_a_sustained_rule_exactly_as_one_process_would(
    attached: Device, session: DosingSession, token: str, on_process: Callable[[str], None]
) -> None:
    """HR > 110 for 30 s (hr-high): 40 one-second readings, each sent to the other process in turn."""
    t0 = timezone.now() - dt.timedelta(minutes=5)
    fired_at = []
    for i in range(40):
        on_process("AB"[i % 2])
        batch = series(attached, session, "8867-4", "/min", [125.0], start=t0 + dt.timedelta(seconds=i),
                       seq0=i + 1)  # fmt: skip
        r = post(token, batch).json()
        assert r["stored"] == 1
        fired_at += [i for a in r["alerts"] if a["rule_id"] == "hr-high"]
    assert fired_at == [30]  # pending from t0, fires when 30 s have passed: once, as a single process would
    assert MonitoringAlert.objects.filter(rule_id="hr-high").count() == 1
    state = SessionRuleState.objects.get(session=session)
    assert state.version == 40
    assert state.state["rules"]["hr-high"]["active"] is True


def test_a_failed_batch_leaves_the_shared_state_unchanged(
    attached: Device, session: DosingSession, token: str, on_process: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    t0 = timezone.now() - dt.timedelta(minutes=5)
    on_process("A")
    post(token, series(attached, session, "8867-4", "/min", [125.0] * 10, start=t0, seq0=1))
    before = SessionRuleState.objects.get(session=session)

    def boom(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "_store_events", boom)
    with pytest.raises(RuntimeError):
        actions.do_ingest_readings(
            device=attached,
            items=series(attached, session, "8867-4", "/min", [125.0] * 25, start=t0 + dt.timedelta(seconds=10),
                         seq0=11),
        )  # fmt: skip
    after = SessionRuleState.objects.get(session=session)
    assert (after.version, after.state) == (before.version, before.state)
    assert not actions.ENGINE.engine.has(str(session.pk))  # the process dropped the copy that saw them
