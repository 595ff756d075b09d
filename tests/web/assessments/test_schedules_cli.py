"""`ketaclinic run-schedules`: one pass creates exactly the due links and says so; bad options change nothing;
the service loop survives a failed pass and stops cleanly on SIGTERM."""

from __future__ import annotations

import datetime as dt
import signal
from typing import Any

import pytest
from django.utils import timezone
from typer.testing import CliRunner

from ketaclinic.cli import app, schedules
from ketaclinic.web.assessments import actions
from ketaclinic.web.assessments.models import RemoteLink, RemoteSchedule
from ketaclinic.web.audit.models import AuditEvent


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["run-schedules", *args])


def _stamp(when: dt.datetime) -> str:
    return timezone.localtime(when).isoformat(timespec="seconds")


@pytest.fixture
def three_schedules(nurse: Any, patient: Any) -> dict[str, RemoteSchedule]:
    """A due weekly PHQ-9, a stopped GAD-7 (due but inactive) and a post-dose schedule (never materialised here)."""
    due = actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="interval", interval_days=7
    )
    stopped = actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="gad7", kind="interval", interval_days=7
    )
    actions.do_deactivate_schedule(actor=nurse, schedule_id=stopped.pk)
    post = actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="post_dose", delay_hours=24
    )
    return {"due": due, "stopped": stopped, "post": post}


def test_once_creates_the_due_link_and_prints_it(
    three_schedules: dict[str, RemoteSchedule], patient: Any
) -> None:
    due = three_schedules["due"]
    first_due = due.next_due_at
    assert first_due is not None
    r = _cli("--once")
    assert r.exit_code == 0, r.output
    link = RemoteLink.objects.get()
    due.refresh_from_db()
    assert (link.instrument_id, link.patient_id, link.schedule_id, link.created_by_id) == (
        "phq9",
        patient.pk,
        due.pk,
        None,
    )
    assert link.available_from == first_due
    assert link.expires_at == first_due + dt.timedelta(hours=72)
    assert due.next_due_at == first_due + dt.timedelta(days=7)
    lines = r.stdout.splitlines()
    assert lines[0] == (
        f"created phq9 link {link.pk} for patient {patient.mrn} (schedule {due.pk}): "
        f"opens {_stamp(first_due)}, expires {_stamp(link.expires_at)}, next due {_stamp(due.next_due_at)}"
    )
    assert len(lines) == 2 and lines[1].endswith(" run-schedules: 1 questionnaire link created")
    assert "link" not in r.stderr
    audit = AuditEvent.objects.filter(action="remote_link.create").order_by("pk").last()
    assert audit is not None and audit.actor_label == "scheduler" and audit.detail["schedule"] == due.pk
    # The token (the patient's credential) is never printed.
    assert actions.link_token(link) not in r.stdout

    # A second pass finds nothing due and changes nothing.
    audits = AuditEvent.objects.count()
    r = _cli("--once")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1].endswith(" run-schedules: 0 questionnaire links created")
    assert RemoteLink.objects.count() == 1 and AuditEvent.objects.count() == audits
    due.refresh_from_db()
    assert due.next_due_at == first_due + dt.timedelta(days=7)


@pytest.mark.parametrize("value", ["5", "86401", "0"])
def test_bad_interval_exits_2_naming_the_option_and_changes_nothing(
    three_schedules: dict[str, RemoteSchedule], value: str
) -> None:
    audits = AuditEvent.objects.count()
    r = _cli("--interval", value)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: --interval: must be between 10 and 86400 seconds, got {value}"
    assert RemoteLink.objects.count() == 0 and AuditEvent.objects.count() == audits


def test_without_once_runs_the_service_loop_with_the_interval(
    monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    seen: list[int] = []
    monkeypatch.setattr(schedules, "serve", lambda *, interval: seen.append(interval))
    assert _cli("--interval", "60").exit_code == 0
    assert _cli().exit_code == 0
    assert seen == [60, schedules.DEFAULT_INTERVAL]


def test_service_loop_creates_links_as_they_fall_due_and_stops_on_sigterm(
    three_schedules: dict[str, RemoteSchedule], capsys: pytest.CaptureFixture[str]
) -> None:
    due = three_schedules["due"]
    waits: list[float] = []

    def fake_wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 1:
            # "A week passes": the schedule is due again at the next pass.
            RemoteSchedule.objects.filter(pk=due.pk).update(
                next_due_at=timezone.now() - dt.timedelta(minutes=1)
            )
            return False
        signal.raise_signal(signal.SIGTERM)  # the service manager stops us while we wait
        return False

    before = signal.getsignal(signal.SIGTERM)
    passes = schedules.serve(interval=120, wait=fake_wait)
    assert passes == 2 and waits == [120, 120]
    assert RemoteLink.objects.filter(schedule=due).count() == 2
    out = capsys.readouterr()
    assert out.out.count("run-schedules: 1 questionnaire link created") == 2
    assert out.out.splitlines()[-1] == "run-schedules: stopped after 2 passes"
    assert f"run-schedules: signal {int(signal.SIGTERM)} received, stopping" in out.err
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_service_loop_survives_a_failed_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db: Any
) -> None:
    calls: list[int] = []

    def flaky_once() -> list[Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return []

    monkeypatch.setattr(schedules, "run_once", flaky_once)
    passes = schedules.serve(interval=30, wait=lambda s: len(calls) >= 2)
    assert passes == 2 and len(calls) == 2
    err = capsys.readouterr().err
    assert "run-schedules: pass failed, retrying in 30 s: RuntimeError('database is locked')" in err
