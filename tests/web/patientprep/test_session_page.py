"""The patient's session page: preparation from the protocol, attendance, integration prompts, questionnaires, closed links."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketaclinic.core.protocols.model import load_protocols
from ketaclinic.web.accounts.models import User
from ketaclinic.web.assessments import actions as assessments
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.lib.errors import PermissionDeniedError, ValidationFailed
from ketaclinic.web.patientprep import actions
from ketaclinic.web.patientprep.models import SessionLink, SessionReflection
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse


def protocol_raw(pid: str) -> dict[str, Any]:
    return dict(next(p for p in load_protocols() if p.id == pid).raw)


@pytest.fixture
def session(clinic: Clinic, site: Site, patient: Patient, prescriber: User) -> DosingSession:
    site.timezone = "America/Los_Angeles"
    site.address_line = "100 Example Way"
    site.save()
    course = TreatmentCourse.objects.create(
        clinic=clinic,
        patient=patient,
        protocol_id="esketamine-trd",
        protocol_version=1,
        protocol_snapshot=protocol_raw("esketamine-trd"),
        indication="TRD",
        started_by=prescriber,
        started_at=timezone.now() - dt.timedelta(days=1),
    )
    return DosingSession.objects.create(
        clinic=clinic,
        site=site,
        patient=patient,
        course=course,
        scheduled_for=dt.datetime(2030, 1, 15, 17, 30, tzinfo=dt.UTC),
    )


@pytest.fixture
def link(nurse: User, patient: Patient, session: DosingSession) -> tuple[SessionLink, str]:
    return actions.do_create_session_link(actor=nurse, patient_id=patient.pk, dosing_session_id=session.pk)


def test_before_the_session_the_page_shows_the_protocols_preparation_in_the_sites_time(
    link: tuple[SessionLink, str],
) -> None:
    _l, url = link
    html = Client().get(url).content.decode()
    assert (
        "Tuesday 15 January 2030, 09:30" in html
        and "America/Los_Angeles" in html
        and "100 Example Way" in html
    )
    assert "Do not eat for 2 hours and do not drink for 30 minutes before your session." in html
    assert "Do not drive, cycle or operate machinery until the next day, after a restful sleep." in html
    assert "nasal corticosteroid or decongestant, use it at least 1 hour before" in html
    assert "A list of every medicine you take" in html
    assert "snake" not in html and "fasting_food_hours" not in html


def test_attendance_needs_the_name_of_whoever_takes_the_patient_home(link: tuple[SessionLink, str]) -> None:
    lk, url = link
    c = Client()
    before = AuditEvent.objects.count()
    res = c.post(url, {"form": "attendance", "attending": "attending", "escort_name": ""})
    assert res.status_code == 400
    assert (
        "Please tell us who will take you home: you cannot drive after the session." in res.content.decode()
    )
    lk.refresh_from_db()
    assert (lk.attendance, AuditEvent.objects.count()) == ("", before)
    res = c.post(url, {"form": "attendance", "attending": "attending", "escort_name": "Sam Rivera"})
    assert res.status_code == 302
    lk.refresh_from_db()
    assert (lk.attendance, lk.escort_name) == ("attending", "Sam Rivera")
    ev = AuditEvent.objects.filter(action="patientprep.attendance").get()
    assert (ev.actor_id, ev.actor_label, ev.patient_id) == (
        None,
        "patient (session page link)",
        lk.patient_id,
    )
    assert "Sam Rivera will take you home" in c.get(url).content.decode()


def test_after_the_session_integration_prompts_and_open_questionnaires(
    link: tuple[SessionLink, str], session: DosingSession, nurse: User, patient: Patient
) -> None:
    _lk, url = link
    c = Client()
    with pytest.raises(actions.LinkClosed):
        actions.do_submit_reflection(token=url.split("/")[-2], answers={"feeling": "5"})
    session.first_dose_at = session.scheduled_for
    session.save(update_fields=["first_dose_at"])
    _ql, qurl = assessments.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="phq9")
    html = c.get(url).content.decode()
    # The page signs the questionnaire link afresh (a signature carries its second), so compare the signed
    # payload (link id and nonce), not the timestamp and signature after it.
    assert "What stood out for you during the session?" in html and qurl.rsplit(":", 2)[0] in html
    assert "Do not eat" not in html
    res = c.post(url, {"form": "reflection", "stood_out": "Felt calm", "feeling": "11", "bring": ""})
    assert res.status_code == 400 and "Please choose a number from 0 to 10." in res.content.decode()
    assert SessionReflection.objects.count() == 0
    assert (
        c.post(
            url, {"form": "reflection", "stood_out": "Felt calm", "feeling": "7", "bring": "Family"}
        ).status_code
        == 302
    )
    assert list(SessionReflection.objects.values_list("answers", flat=True)) == [
        {"stood_out": "Felt calm", "feeling": 7, "bring": "Family"}
    ]
    assert "Thank you: your answers are with your care team" in c.get(url).content.decode()
    with pytest.raises(actions.LinkClosed):
        actions.do_confirm_attendance(token=url.split("/")[-2], attending="attending", escort_name="x")


def test_closed_links(
    link: tuple[SessionLink, str], nurse: User, patient: Patient, session: DosingSession
) -> None:
    _lk, url = link
    c = Client()
    assert c.get(url.replace("/p/", "/p/x")).status_code == 410
    # A new link for the same session withdraws the old one.
    _l2, url2 = actions.do_create_session_link(
        actor=nurse, patient_id=patient.pk, dosing_session_id=session.pk
    )
    res = c.get(url)
    assert res.status_code == 410 and "withdrawn by your clinic" in res.content.decode()
    assert c.get(url2).status_code == 200
    SessionLink.objects.filter(pk=_l2.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert "has expired" in c.get(url2).content.decode()


def test_who_may_make_links(front_desk: User, patient: Patient, session: DosingSession, nurse: User) -> None:
    with pytest.raises(PermissionDeniedError):
        actions.do_create_session_link(actor=front_desk, patient_id=patient.pk, dosing_session_id=session.pk)
    with pytest.raises(ValidationFailed) as exc:
        actions.do_create_session_link(actor=nurse, patient_id=patient.pk, dosing_session_id=999999)
    assert exc.value.fields == {"dosing_session": ["no such dosing session for this patient"]}
    assert SessionLink.objects.count() == 0


def test_staff_see_answers_on_the_care_plan_tab(
    link: tuple[SessionLink, str], nurse: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    _lk, url = link
    Client().post(url, {"form": "attendance", "attending": "cannot"})
    html = client_as(nurse).get(f"/careplan/patients/{patient.pk}/").content.decode()
    assert "Cannot attend" in html and "Withdraw link" in html
