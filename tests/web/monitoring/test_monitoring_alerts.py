"""Streaming alerts through the API: every rule type, hysteresis, clearing, acknowledgement, escalation, push."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import timezone
from tests.web.monitoring.monitoring_helpers import post, reading, series

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.models import Device, MonitoringAlert
from ketaclinic.web.monitoring.selectors import board_snapshot, sensor_vitals_for_flowsheet
from ketaclinic.web.treatment.models import DosingSession


def _start(seconds_ago: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds_ago)


def _fired(body: dict[str, Any]) -> list[str]:
    return [a["rule_id"] for a in body["alerts"] if a["kind"] == "fired"]


def test_threshold_rule_fires_once_and_is_stored(
    attached: Device, session: DosingSession, token: str
) -> None:
    body = post(
        token, series(attached, session, "8480-6", "mm[Hg]", [160, 185, 190], start=_start(10))
    ).json()
    assert _fired(body) == ["sbp-high"]
    a = MonitoringAlert.objects.get()
    assert (a.rule_id, a.rule_type, a.severity, a.metric, a.value, a.unit) == (
        "sbp-high", "threshold", "critical", "sbp", 185.0, "mm[Hg]",
    )  # fmt: skip
    assert a.message == "SBP above 180 mmHg: now 185 mmHg"
    assert "SBP >180" in a.source
    assert a.ruleset == "ketamine-session-default@1.0.0"
    assert a.site_id == attached.site_id and a.device_id == attached.pk and a.cleared_at is None


def test_hysteresis_noisy_readings_give_one_alert(
    attached: Device, session: DosingSession, token: str
) -> None:
    values = [182 if i % 2 else 176 for i in range(40)]
    body = post(token, series(attached, session, "8480-6", "mm[Hg]", values, start=_start(60))).json()
    # 176 is above the 160 warning and 182 above the 180 critical row: each fires once and stays up.
    assert _fired(body) == ["sbp-high-warn", "sbp-high"]
    assert MonitoringAlert.objects.count() == 2


def test_alert_clears_after_30_s_of_normal_values(
    attached: Device, session: DosingSession, token: str
) -> None:
    values = [190] + [160] * 31
    body = post(token, series(attached, session, "8480-6", "mm[Hg]", values, start=_start(60))).json()
    assert [(x["rule_id"], x["kind"]) for x in body["alerts"]] == [
        ("sbp-high", "fired"),
        ("sbp-high", "cleared"),
    ]
    a = MonitoringAlert.objects.get()
    assert a.cleared_value == 160.0
    assert (a.cleared_at - a.fired_at) == dt.timedelta(seconds=31)


def test_sustained_rule_needs_15_seconds(attached: Device, session: DosingSession, token: str) -> None:
    start = _start(100)
    first = post(token, series(attached, session, "59408-5", "%", [91] * 15, start=start)).json()
    assert _fired(first) == []  # 0..14 s: not yet sustained for 15 s
    second = post(
        token,
        series(attached, session, "59408-5", "%", [91], start=start + dt.timedelta(seconds=15), seq0=16),
    ).json()
    assert _fired(second) == ["spo2-low"]
    assert list(MonitoringAlert.objects.values_list("rule_id", "rule_type")) == [("spo2-low", "sustained")]


def test_single_desaturation_reading_does_not_alert(
    attached: Device, session: DosingSession, token: str
) -> None:
    values = [97] * 10 + [85] + [97] * 10
    assert (
        _fired(post(token, series(attached, session, "59408-5", "%", values, start=_start(60))).json()) == []
    )
    assert MonitoringAlert.objects.count() == 0


def test_rate_of_change_rule(attached: Device, session: DosingSession, token: str) -> None:
    values = [98, 98, 97, 96, 95, 94, 94, 94]  # a 4-point fall within 60 s held 10 s, above the thresholds
    body = post(token, series(attached, session, "59408-5", "%", values, start=_start(30), step_s=5)).json()
    assert _fired(body) == ["spo2-drop"]
    assert MonitoringAlert.objects.get().rule_type == "rate_of_change"


def test_protocol_threshold_drives_rr_low(attached: Device, session: DosingSession, token: str) -> None:
    # The threshold table (flowsheet and sensors alike): RR <10 warns, RR <8 is critical, each held 30 s.
    body = post(token, series(attached, session, "9279-1", "/min", [9] * 31, start=_start(80))).json()
    assert _fired(body) == ["rr-low-warn"]
    start = _start(40)
    body = post(token, series(attached, session, "9279-1", "/min", [7] * 31, start=start, seq0=100)).json()
    assert _fired(body) == ["rr-low"]
    assert MonitoringAlert.objects.get(rule_id="rr-low").severity == "critical"


def test_alert_is_pushed_to_the_site_board(
    attached: Device, session: DosingSession, token: str, django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(actions.board_group(attached.site_id), channel)
    with django_capture_on_commit_callbacks(execute=True):
        post(token, [reading(attached, session, value=200, seq=1, ago_s=1)])

    async def receive() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    got = [async_to_sync(receive)()["event"] for _ in range(2)]
    alert = next(e for e in got if e["type"] == "alert")
    vitals = next(e for e in got if e["type"] == "vitals")
    assert (alert["rule_id"], alert["session"], alert["severity"], alert["value"]) == (
        "sbp-high",
        session.pk,
        "critical",
        200.0,
    )
    assert alert["id"] == MonitoringAlert.objects.get().pk
    assert vitals["session"] == session.pk and vitals["values"]["sbp"][1] == 200.0


def _alert(attached: Device, session: DosingSession, token: str) -> MonitoringAlert:
    post(token, [reading(attached, session, value=195, seq=1, ago_s=1)])
    return MonitoringAlert.objects.get()


def test_acknowledge_with_action_via_api(
    attached: Device, session: DosingSession, token: str, nurse: Any, client_as: Any
) -> None:
    a = _alert(attached, session, token)
    r = client_as(nurse).post(f"/api/v1/monitoring/alerts/{a.pk}/acknowledge",
                              data={"action": "reassessed", "note": "asymptomatic"}, content_type="application/json")  # fmt: skip
    assert r.status_code == 200
    assert (r.json()["ack_action"], r.json()["id"]) == ("reassessed", a.pk)
    a.refresh_from_db()
    assert (a.acknowledged_by_id, a.ack_action, a.ack_note) == (nurse.pk, "reassessed", "asymptomatic")
    ev = AuditEvent.objects.get(action="monitoring.alert.acknowledge")
    assert (ev.actor_id, ev.patient_id, ev.detail["rule_id"]) == (nurse.pk, session.patient_id, "sbp-high")


def test_acknowledge_refusals_change_nothing(
    attached: Device, session: DosingSession, token: str, nurse: Any, front_desk: Any, client_as: Any
) -> None:
    a = _alert(attached, session, token)
    audits = AuditEvent.objects.exclude(action="access.denied").count()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_acknowledge_alert(actor=nurse, alert=a, action="ignored")
    assert list(exc.value.fields) == ["action"]
    with pytest.raises(ValidationFailed) as exc:
        actions.do_acknowledge_alert(actor=nurse, alert=a, action="other", note=" ")
    assert exc.value.fields == {"note": ["required when the action is other"]}
    with pytest.raises(PermissionDeniedError):
        actions.do_acknowledge_alert(actor=front_desk, alert=a, action="reassessed")
    r = client_as(front_desk).post(f"/api/v1/monitoring/alerts/{a.pk}/acknowledge", data={"action": "reassessed"},
                                   content_type="application/json")  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    a.refresh_from_db()
    assert a.acknowledged_at is None and a.ack_action == ""
    # The refusals themselves are audited (access.denied); nothing else was written.
    assert AuditEvent.objects.exclude(action="access.denied").count() == audits
    actions.do_acknowledge_alert(actor=nurse, alert=a, action="artefact")
    with pytest.raises(ConflictError):
        actions.do_acknowledge_alert(actor=nurse, alert=a, action="reassessed")
    a.refresh_from_db()
    assert a.ack_action == "artefact"


def test_escalation_of_unacknowledged_alerts(
    attached: Device, session: DosingSession, token: str, nurse: Any
) -> None:
    post(token, [reading(attached, session, value=195, seq=1, ago_s=2)])  # critical sbp-high
    post(
        token,
        series(
            attached,
            session,
            "59408-5",
            "%",
            [98, 97, 96, 95, 94, 94, 94],
            start=_start(40),
            step_s=5,
            seq0=10,
        ),
    )
    crit = MonitoringAlert.objects.get(rule_id="sbp-high")
    warn = MonitoringAlert.objects.get(rule_id="spo2-drop")
    t0 = crit.raised_at
    assert actions.do_escalate_overdue_alerts(now=t0 + dt.timedelta(seconds=59)) == []
    esc = actions.do_escalate_overdue_alerts(now=t0 + dt.timedelta(seconds=61))
    assert [a.rule_id for a in esc] == ["sbp-high"]  # the warning has 180 s
    assert actions.do_escalate_overdue_alerts(now=t0 + dt.timedelta(seconds=62)) == []  # once only
    actions.do_acknowledge_alert(actor=nurse, alert=warn, action="sensor_repositioned")
    assert actions.do_escalate_overdue_alerts(now=t0 + dt.timedelta(seconds=400)) == []  # acknowledged: never
    crit.refresh_from_db()
    assert crit.escalated_at == t0 + dt.timedelta(seconds=61)
    ev = AuditEvent.objects.get(action="monitoring.alert.escalate")
    assert ev.actor_id is None and ev.actor_label == "system" and ev.detail["unacknowledged_for_s"] == 61


def test_board_snapshot_and_flowsheet_rows(attached: Device, session: DosingSession, token: str) -> None:
    start = _start(50)
    post(token, series(attached, session, "8480-6", "mm[Hg]", [150, 154, 185], start=start, step_s=2))
    post(token, series(attached, session, "8867-4", "/min", [70, 72, 80], start=start, step_s=2, seq0=100))
    snap = board_snapshot(attached.site)
    assert [s["id"] for s in snap["sessions"]] == [session.pk]
    s = snap["sessions"][0]
    assert [v for _, v in s["vitals"]["sbp"]] == [150.0, 154.0, 185.0]
    assert [a["rule_id"] for a in s["alerts"]] == ["sbp-high"]
    assert s["devices"] == [{"id": attached.pk, "label": "Wrist 1", "serial": "W-0001"}]
    assert s["clock_label"] == "since first dose"
    rows = sensor_vitals_for_flowsheet(session.pk, interval_seconds=3600)
    assert len(rows) in (1, 2)  # the 6 readings may straddle an hour boundary
    merged = {
        f: [getattr(r, f) for r in rows if getattr(r, f) is not None] for f in ("systolic", "heart_rate")
    }
    if len(rows) == 1:
        assert (rows[0].systolic, rows[0].heart_rate, rows[0].readings, rows[0].source) == (
            154,
            72,
            6,
            "sensor",
        )
    assert all(merged.values())


def test_board_page_and_api_access(
    attached: Device, session: DosingSession, nurse: Any, make_user: Any, other_clinic: Any, client_as: Any
) -> None:
    r = client_as(nurse).get(f"/monitoring/sites/{attached.site_id}/board/")
    assert r.status_code == 200
    assert b"board-snapshot" in r.content and b"Alex Rivera" in r.content
    assert AuditEvent.objects.filter(action="monitoring.board.view", actor=nurse).count() == 1
    outsider = make_user("nurse", clinic=other_clinic, username="outsider")
    # Another clinic's site answers like a missing one (existence is not disclosed).
    assert client_as(outsider).get(f"/api/v1/monitoring/sites/{attached.site_id}/board").status_code == 404
    assert client_as(outsider).get(f"/monitoring/sites/{attached.site_id}/board/").status_code == 404
    assert Client().get(f"/monitoring/sites/{attached.site_id}/board/").status_code == 302
