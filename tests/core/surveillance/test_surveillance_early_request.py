"""Early-request alert: a session booked sooner after the last dose than the minimum interval (the protocol's, else
the schedule's 44 h default) raises `early_request`; it blocks nothing and names each early request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.core.surveillance.surveillance_helpers import day, dose, history, ts
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.core.surveillance import HistoryError, parse_history, surveil


def _run(h: dict[str, object], on: int = 3) -> list[tuple[str, str, tuple[str, ...]]]:
    r = surveil(parse_history(h), day(on))
    return [(f.code, f.message, f.evidence) for f in r.alerts]


def test_request_inside_the_default_interval_alerts() -> None:
    h = history(doses=[dose(0), dose(3)])
    h["requests"] = [{"time": ts(4, 9)}, {"time": ts(6, 10)}]  # 23 h after day 3's dose; then 72 h
    assert _run(h) == [
        (
            "early_request",
            "Session requested early: a session for 2026-01-09 09:00 UTC is 23 h after the dose of "
            "2026-01-08 10:00 UTC (minimum interval 44 h). Frequent dosing is a risk of dependence: review the "
            "request before the session.",
            ("requests[0]", "doses[1]"),
        )
    ]


def test_protocol_interval_replaces_the_default_and_the_boundary_is_not_early() -> None:
    h = history(doses=[dose(0)])
    h["requests"] = [{"time": ts(2, 10)}]  # exactly 48 h
    assert _run(h, on=1) == []  # 48 h >= 44 h
    h["min_interval_hours"] = 48
    assert _run(h, on=1) == []  # exactly the interval: not early
    h["min_interval_hours"] = 72
    assert [c for c, _, _ in _run(h, on=1)] == ["early_request"]


def test_past_requests_and_requests_before_any_dose_are_ignored() -> None:
    h = history(doses=[dose(5)])
    h["requests"] = [{"time": ts(1)}, {"time": ts(5, 20)}]  # before any dose; 10 h after, but before `on`
    assert _run(h, on=6) == []


def test_bad_request_input_names_the_field() -> None:
    h = history(doses=[dose(0)])
    h["requests"] = [{"when": ts(1)}]
    with pytest.raises(HistoryError) as exc:
        parse_history(h)
    assert (exc.value.field, exc.value.reason) == ("requests[0].time", "is required")
    h["requests"] = []
    h["min_interval_hours"] = 0
    with pytest.raises(HistoryError) as exc:
        parse_history(h)
    assert (exc.value.field, exc.value.reason) == (
        "min_interval_hours",
        "must be greater than 0 and at most 1440",
    )


def test_cli_reports_it_in_the_existing_shape(tmp_path: Path) -> None:
    h = history(doses=[dose(0), dose(3)])
    h["requests"] = [{"time": ts(4, 9)}]
    f = tmp_path / "h.json"
    f.write_text(json.dumps(h))
    r = CliRunner().invoke(app, ["surveillance", str(f), "--on", day(3).isoformat(), "--json"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert set(out) == {"exposure", "findings", "on", "on_treatment", "schedule_version"}
    early = [x for x in out["findings"] if x["code"] == "early_request"]
    assert (
        len(early) == 1
        and early[0]["evidence"] == ["requests[0]", "doses[1]"]
        and early[0]["level"] == "alert"
    )
