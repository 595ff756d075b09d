"""Pausing, resuming and stopping an infusion early: the dose given is rate x running time (pauses excluded),
a reason is required, and a refused end changes nothing. A second session the same day is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from tests.web.treatment.treatment_helpers import counts, session_for, snapshot, to_pre_dose

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment import selectors
from ketaclinic.web.treatment.models import DosingSession, InfusionPause, Order, SessionTransition

pytestmark = pytest.mark.django_db


@contextmanager
def clock(at: dt.datetime) -> Iterator[None]:
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _infusing(prescriber: Any, nurse: Any, patient: Any, t0: dt.datetime) -> DosingSession:
    """An IV racemic session (35 mg over 40 min for 70 kg) whose infusion started at t0."""
    s = to_pre_dose(nurse, session_for(prescriber, nurse, patient))
    from ketaclinic.web.treatment.stock import holdings

    held = [lot for lot, q in holdings(s) if q > 0]
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg="35", lot_id=held[0].pk, administered_at=t0, duration_min="40"
    )
    s.refresh_from_db()
    return s


def test_early_end_records_rate_times_running_time_without_pauses(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=31)
    s = _infusing(prescriber, nurse, patient, t0)
    with clock(t0 + dt.timedelta(minutes=10)):
        A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=True, reason="patient nauseous")
    with pytest.raises(ConflictError, match="already paused"), clock(t0 + dt.timedelta(minutes=11)):
        A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=True, reason="again")
    with clock(t0 + dt.timedelta(minutes=16)):
        A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=False, reason="settled")
    assert list(InfusionPause.objects.filter(session=s).values_list("paused_at", "resumed_at", "reason")) == [
        (t0 + dt.timedelta(minutes=10), t0 + dt.timedelta(minutes=16), "patient nauseous")
    ]
    # Stopped at 30 min: ran 24 min at 0.875 mg/min = 21 mg. Without a reason: refused, nothing changes.
    before, state = counts(), snapshot(s)
    with pytest.raises(ValidationFailed) as exc:
        A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=30))
    assert exc.value.fields == {
        "reason": ["the infusion is stopped early: 21 mg of 35 mg given (24 min running) — give the reason"]
    }
    assert counts() == before and snapshot(s) == state
    A.do_end_dosing(
        actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=30), reason="hypertension"
    )
    s.refresh_from_db()
    assert (s.status, s.dose_given_mg, s.dose_end_reason, s.dose_ended_at) == (
        "monitoring",
        Decimal("21.00"),
        "hypertension",
        t0 + dt.timedelta(minutes=30),
    )
    t = SessionTransition.objects.filter(session=s, to_status="monitoring").get()
    assert t.detail == {
        "total_mg": "21.00",
        "reason": "hypertension",
        "planned_mg": "35.00",
        "ran_min": "24.0",
        "paused_min": "6.0",
    }
    # The guard history counts what was given, not what was ordered.
    (dose,) = selectors.dose_history(patient)
    assert dose.dose_mg == 21.0


def test_full_run_needs_no_reason_and_gives_the_ordered_dose(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=45)
    s = _infusing(prescriber, nurse, patient, t0)
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=40))
    s.refresh_from_db()
    assert (s.status, s.dose_given_mg, s.dose_end_reason) == ("monitoring", Decimal("35.00"), "")


def test_open_pause_closes_at_the_end_and_counts_as_paused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=25)
    s = _infusing(prescriber, nurse, patient, t0)
    with clock(t0 + dt.timedelta(minutes=20)):
        A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=True, reason="low oxygen")
    end = t0 + dt.timedelta(minutes=24)
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=end, reason="stopped for low oxygen")
    s.refresh_from_db()
    assert (s.dose_given_mg, s.infusion_paused) == (Decimal("17.50"), False)
    assert InfusionPause.objects.get(session=s).resumed_at == end


def test_resume_without_pause_is_refused(cleared: None, prescriber: Any, nurse: Any, patient: Any) -> None:
    s = _infusing(prescriber, nurse, patient, timezone.now() - dt.timedelta(minutes=5))
    audit = AuditEvent.objects.count()
    with pytest.raises(ConflictError, match="not paused"):
        A.do_set_infusion_paused(actor=nurse, session_id=s.pk, paused=False, reason="x")
    assert (InfusionPause.objects.count(), AuditEvent.objects.count()) == (0, audit)


def test_second_session_same_day_is_refused_and_nothing_is_stored(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    first = session_for(prescriber, nurse, patient)
    before = counts()
    orders = Order.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        A.do_sign_and_schedule(actor=prescriber, course_id=first.course_id, planned_for=None)
    at = timezone.localtime(first.scheduled_for)
    assert exc.value.fields == {
        "scheduled_for": [
            f"Alex Rivera already has a session on {at:%Y-%m-%d} (session {first.pk} at {at:%H:%M}, "
            "scheduled): one dosing session a day — choose another date or cancel that one"
        ]
    }
    assert counts() == before and Order.objects.count() == orders
    # Over HTTP: the refusal is shown in words and nothing is stored.
    c = client_as(prescriber)
    r = c.post(f"/treatment/patients/{patient.pk}/courses/{first.course_id}/orders", {"planned_for": ""})
    assert r.status_code == 302
    assert counts() == before and Order.objects.count() == orders
    assert "one dosing session a day" in c.get(r["Location"]).content.decode()
    # Once that session is cancelled, the day is free again.
    A.do_cancel_session(actor=nurse, session_id=first.pk, reason="rebooked")
    order, s = A.do_sign_and_schedule(actor=prescriber, course_id=first.course_id, planned_for=None)
    assert (s.order_id, s.status) == (order.pk, "scheduled")
