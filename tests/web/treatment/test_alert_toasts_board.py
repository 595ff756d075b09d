"""Manual vitals alerts and infusion pauses reach the live board like sensor alerts; their toasts name the
patient, go only to staff who may act on them, and are withdrawn when the alert is acknowledged anywhere."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from tests.web.treatment.treatment_helpers import session_for, to_pre_dose

from ketaclinic.web.lib import live
from ketaclinic.web.lib.consumers import LiveConsumer
from ketaclinic.web.monitoring.actions import board_group
from ketaclinic.web.monitoring.selectors import board_snapshot
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.actions import charting
from ketaclinic.web.treatment.models import SessionAlert
from ketaclinic.web.treatment.stock import holdings


def _dosing(prescriber: Any, nurse: Any, patient: Any) -> Any:
    s = to_pre_dose(nurse, session_for(prescriber, nurse, patient))
    (lot,) = [lot for lot, q in holdings(s) if q > 0]
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg="35", lot_id=lot.pk, duration_min="40",
        administered_at=timezone.now() - dt.timedelta(minutes=5),
    )  # fmt: skip
    s.refresh_from_db()
    return s


@pytest.mark.django_db
def test_manual_alert_and_pause_go_to_the_board_and_toast_the_bedside_staff(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _dosing(prescriber, nurse, patient)
    sent: list[tuple[str, dict[str, Any]]] = []
    record = lambda group, event: sent.append((group, event))  # noqa: E731
    monkeypatch.setattr(charting, "notify_group", record)
    monkeypatch.setattr(live, "notify_group", record)
    A.do_record_vitals(actor=nurse, session_id=s.pk, values={"heart_rate": 120})
    alert = SessionAlert.objects.get(session=s)
    bedside, board = live.bedside_group(s.clinic_id), board_group(s.site_id)
    toasts = [e for g, e in sent if g == bedside]
    assert toasts == [
        {
            "type": "alert",
            "toast": True,
            "kind": "session",
            "key": f"session-{alert.pk}",
            "session": s.pk,
            "level": "danger",
            "title": f"Alex Rivera: {alert.message} Infusion paused.",
            "url": f"/treatment/sessions/{s.pk}/",
        }
    ]
    on_board = [e for g, e in sent if g == board]
    assert [(e["type"], e.get("kind"), e.get("id")) for e in on_board] == [
        ("infusion_paused", None, None),
        ("alert", "session", f"session-{alert.pk}"),
    ]
    assert on_board[0]["text"] == f"Alex Rivera: infusion paused (alert: {alert.message})"
    # The board's snapshot lists both beside the sensor alerts (none here).
    snap = board_snapshot(s.site)
    (row,) = [x for x in snap["sessions"] if x["id"] == s.pk]
    assert [(a["id"], a["kind"], a["severity"]) for a in row["alerts"]] == [
        (f"session-{alert.pk}", "session", "critical"),
        (f"pause-{s.pauses.get().pk}", "pause", "warning"),
    ]
    # Acknowledged anywhere (here the run sheet's action): the toast and the board entry are withdrawn.
    sent.clear()
    A.do_acknowledge_session_alert(actor=nurse, alert_id=alert.pk)
    assert [(g, e["type"], e.get("key") or e.get("id")) for g, e in sent] == [
        (bedside, "alert_ack", f"session-{alert.pk}"),
        (board, "alert_ack", f"session-{alert.pk}"),
    ]
    (row,) = [x for x in board_snapshot(s.site)["sessions"] if x["id"] == s.pk]
    assert [a["kind"] for a in row["alerts"]] == ["pause"]
    A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=False, reason="BP settled")
    (row,) = [x for x in board_snapshot(s.site)["sessions"] if x["id"] == s.pk]
    assert row["alerts"] == []


@pytest.mark.django_db(transaction=True)
def test_toasts_reach_staff_who_may_act_not_other_clinical_readers(nurse: Any, auditor: Any) -> None:
    clinic_id = nurse.memberships.get().clinic_id

    async def scenario() -> tuple[Any, bool]:
        socks = {}
        for who, user in (("nurse", nurse), ("auditor", auditor)):
            comm = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
            comm.scope["user"] = user
            ok, _ = await comm.connect()
            assert ok
            socks[who] = comm
        await get_channel_layer().group_send(
            live.bedside_group(clinic_id), {"type": "live.event", "event": {"type": "alert", "toast": True}}
        )
        got = await socks["nurse"].receive_json_from(timeout=5)
        auditor_got = not await socks["auditor"].receive_nothing(timeout=0.5)
        for comm in socks.values():
            await comm.disconnect()
        return got, auditor_got

    got, auditor_got = async_to_sync(scenario)()
    assert got == {"type": "alert", "toast": True}
    assert auditor_got is False
