"""The escalation command and the simulate-devices CLI (local mode and its input errors)."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from tests.web.monitoring.monitoring_helpers import post, reading
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.web.monitoring.models import Device, MonitoringAlert
from ketaclinic.web.treatment.models import DosingSession


def test_escalate_command_once(attached: Device, session: DosingSession, token: str) -> None:
    post(token, [reading(attached, session, value=195, seq=1, ago_s=1)])
    MonitoringAlert.objects.update(raised_at=timezone.now() - dt.timedelta(seconds=120))
    out = io.StringIO()
    call_command("monitoring_escalate", "--once", stdout=out)
    a = MonitoringAlert.objects.get()
    assert out.getvalue() == f"escalated alert {a.pk} (sbp-high, critical) of session {session.pk}\n"
    assert a.escalated_at is not None


def test_simulate_devices_local_json() -> None:
    r = CliRunner().invoke(
        app, ["simulate-devices", "--patients", "3", "--rate", "1", "--duration", "120", "--json"]
    )
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    assert (out["mode"], out["sent"], out["stored"], out["rejected"]) == ("local", 1800, 1800, 0)


def test_simulate_devices_bad_input_exits_2() -> None:
    runner = CliRunner()
    for args, field in (
        (["--patients", "0"], "--patients"),
        (["--rate", "0"], "--rate"),
        (["--duration", "-1"], "--duration"),
        (["--url", "ftp://x", "--token", "a"], "--url"),
        (["--url", "http://127.0.0.1:9", "--patients", "2", "--token", "a"], "--token"),
        (["--token", "a"], "--token"),
    ):
        r = runner.invoke(app, ["simulate-devices", *args])
        assert r.exit_code == 2, (args, r.output)
        assert f"error: {field}:" in r.stderr
