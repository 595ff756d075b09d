"""Treatment pages and API: a session run over HTTP, early esketamine discharge refused on screen."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from tests.web.conftest import PASSWORD
from tests.web.treatment.treatment_helpers import session_for, stock_at, to_pre_dose

from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import DosingSession, RemsMonitoringForm

pytestmark = pytest.mark.django_db


def test_chart_tab_and_session_pages_render(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    c = client_as(nurse)
    r = c.get(f"/treatment/patients/{patient.pk}/")
    assert r.status_code == 200 and b"iv-racemic-depression" in r.content and b"35.00 mg" in r.content
    r = c.get(f"/treatment/sessions/{s.pk}/")
    assert r.status_code == 200 and b"Check in" in r.content


def test_iv_session_over_http(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    c = client_as(nurse)
    post = lambda step, **data: c.post(f"/treatment/sessions/{s.pk}/{step}", data)  # noqa: E731
    post("check_in")
    post("vitals", systolic=120, diastolic=80, heart_rate=70, spo2=98, respiratory_rate=14)
    post(
        "pre_dose",
        fasting_confirmed="on",
        transport_confirmed="on",
        escort_name="Sam",
        pregnancy_test="negative",
    )
    lot, location = stock_at(s.site, "ketamine")
    post("withdraw", stock=f"{lot.pk}:{location.pk}")  # blank quantity: one 10 mL vial for the 35 mg order
    t0 = timezone.localtime() - dt.timedelta(minutes=80)
    post(
        "dose",
        dose_mg="35",
        lot=str(lot.pk),
        duration_min="40",
        administered_at=t0.strftime("%Y-%m-%dT%H:%M"),
    )
    post("end_dosing", ended_at=(t0 + dt.timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M"))
    s.refresh_from_db()
    assert s.status == DosingSession.Status.MONITORING
    post("vitals", systolic=122, diastolic=80, heart_rate=72, spo2=98)
    post("scale", kind="moaas", score="5")
    post("waste", witness=str(prescriber.pk), witness_password=PASSWORD, reason="unused remainder")
    post("ready", escort_present="on")
    r = post("discharge")
    s.refresh_from_db()
    assert (r.status_code, s.status) == (302, DosingSession.Status.DISCHARGED)


def test_early_esketamine_discharge_refused_on_screen(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient, "esketamine-trd")
    to_pre_dose(nurse, s)
    now = timezone.now()
    A.do_record_administration(
        actor=nurse,
        session_id=s.pk,
        dose_mg=28,
        lot_number="ESK1",
        administered_at=now - dt.timedelta(minutes=50),
    )
    A.do_record_administration(
        actor=nurse,
        session_id=s.pk,
        dose_mg=28,
        lot_number="ESK1",
        administered_at=now - dt.timedelta(minutes=45),
    )
    A.do_end_dosing(actor=nurse, session_id=s.pk)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 125, "diastolic": 80},
        taken_at=now - dt.timedelta(minutes=10),
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    c = client_as(nurse)
    r = c.post(f"/treatment/sessions/{s.pk}/ready", {"escort_present": "on"}, follow=True)
    assert b"50 min since the first dose; at least 120 min required" in r.content
    s.refresh_from_db()
    assert s.status == DosingSession.Status.MONITORING and not RemsMonitoringForm.objects.exists()


def test_api_session_and_vitals(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    A.do_check_in(actor=nurse, session_id=s.pk)
    c = client_as(nurse)
    r = c.post(
        f"/api/v1/treatment/sessions/{s.pk}/vitals",
        {"systolic": 150, "diastolic": 85},
        content_type="application/json",
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["systolic"], body["is_baseline"], [a["code"] for a in body["alerts"]]) == (
        150,
        True,
        ["bp_pre_dose_high"],
    )
    r = c.post(
        f"/api/v1/treatment/sessions/{s.pk}/vitals",
        {"systolic": 999, "diastolic": 85},
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["error"]["fields"] == {
        "systolic": ["must be between 40 and 300"]
    }
    r = c.get(f"/api/v1/treatment/sessions/{s.pk}")
    assert r.json()["status"] == "checked_in"
    assert len(c.get(f"/api/v1/treatment/sessions/{s.pk}/vitals").json()) == 1


def test_infusion_pause_and_resume_from_the_run_sheet(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    from ketaclinic.web.audit.models import AuditEvent

    s = session_for(prescriber, nurse, patient)
    c = client_as(nurse)
    post = lambda step, **data: c.post(f"/treatment/sessions/{s.pk}/{step}", data)  # noqa: E731
    post("check_in")
    post("vitals", systolic=120, diastolic=80, heart_rate=70, spo2=98, respiratory_rate=14)
    post(
        "pre_dose",
        fasting_confirmed="on",
        transport_confirmed="on",
        escort_name="Sam",
        pregnancy_test="negative",
    )
    lot, location = stock_at(s.site, "ketamine")
    post("withdraw", stock=f"{lot.pk}:{location.pk}")
    post("dose", dose_mg="35", lot=str(lot.pk), duration_min="40")
    s.refresh_from_db()
    assert s.status == DosingSession.Status.DOSING
    assert b"Pause infusion" in c.get(f"/treatment/sessions/{s.pk}/").content

    before = AuditEvent.objects.filter(action__startswith="session.infusion").count()
    post("pause", reason="")  # a reason is required: nothing changes
    s.refresh_from_db()
    assert s.infusion_paused is False
    assert AuditEvent.objects.filter(action__startswith="session.infusion").count() == before

    post("pause", reason="BP 182/104")
    s.refresh_from_db()
    assert s.infusion_paused is True
    page = c.get(f"/treatment/sessions/{s.pk}/").content
    assert b"INFUSION PAUSED" in page and b"Resume infusion" in page
    post("resume", reason="BP back to 150/90 after 10 min")
    s.refresh_from_db()
    assert s.infusion_paused is False
    events = AuditEvent.objects.filter(action__startswith="session.infusion").order_by("pk")
    assert [(e.action, e.detail["reason"]) for e in events] == [
        ("session.infusion_paused", "BP 182/104"),
        ("session.infusion_resumed", "BP back to 150/90 after 10 min"),
    ]
