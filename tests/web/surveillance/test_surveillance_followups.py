"""Ending a course opens the withdrawal and craving follow-ups: personal craving links on days 7 and 28, and a
nurse's call when a link goes unanswered; refusals change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from ketaclinic.web.assessments.actions import do_submit_remote_answers, link_token
from ketaclinic.web.assessments.models import RemoteLink
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.surveillance import actions, selectors
from ketaclinic.web.surveillance.demo import seed_dose_history
from ketaclinic.web.surveillance.models import FollowUp
from ketaclinic.web.treatment.courses import do_end_course
from ketaclinic.web.treatment.models import TreatmentCourse

pytestmark = pytest.mark.django_db


def _course(patient: Any, prescriber: Any, nurse: Any) -> TreatmentCourse:
    now = timezone.now()
    return seed_dose_history(
        patient,
        prescriber=prescriber,
        nurse=nurse,
        doses=[(now - dt.timedelta(days=d), Decimal("35")) for d in (20, 15, 10, 5)],
    )


def _state() -> tuple[int, int, int, list[str]]:
    return (
        FollowUp.objects.count(),
        RemoteLink.objects.count(),
        AuditEvent.objects.count(),
        list(TreatmentCourse.objects.values_list("status", flat=True)),
    )


def test_ending_a_course_schedules_two_craving_links(prescriber: Any, nurse: Any, patient: Any) -> None:
    course = _course(patient, prescriber, nurse)
    ended = do_end_course(actor=prescriber, course_id=course.pk, outcome="completed", reason="remission")
    assert (ended.status, ended.end_reason) == ("completed", "remission")
    fus = list(FollowUp.objects.order_by("day"))
    assert [f.day for f in fus] == [7, 28]
    for f in fus:
        assert f.link.instrument_id == "craving"
        assert f.link.available_from == ended.ended_at + dt.timedelta(days=f.day)
        assert f.link.expires_at == f.link.available_from + dt.timedelta(hours=72)
    assert AuditEvent.objects.filter(action="course.end").count() == 1
    assert AuditEvent.objects.filter(action="safety_followup.create").count() == 2
    # the engine now reads the course end: the 7-day follow-up (an SDS) is due
    ev = selectors.evaluate_patient(patient)
    assert [f.code for f in ev.result.findings if f.code.startswith("withdrawal")] == [
        "withdrawal_followup_due"
    ]


def test_follow_up_days_follow_the_clinic_schedule(
    admin_user: Any, prescriber: Any, nurse: Any, patient: Any, clinic: Any
) -> None:
    actions.do_set_surveillance_settings(
        actor=admin_user,
        clinic_id=clinic.pk,
        protocol_id="",
        overrides={"followup_days": [{"day": 3, "met_from_day": 0}, {"day": 14, "met_from_day": 7}]},
    )
    course = _course(patient, prescriber, nurse)
    do_end_course(actor=prescriber, course_id=course.pk, outcome="stopped", reason="moved away")
    assert list(FollowUp.objects.order_by("day").values_list("day", flat=True)) == [3, 14]


def test_end_course_refusals_change_nothing(prescriber: Any, nurse: Any, patient: Any) -> None:
    course = _course(patient, prescriber, nurse)
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        do_end_course(actor=prescriber, course_id=course.pk, outcome="paused", reason="")
    assert set(exc.value.fields) == {"outcome", "reason"}
    with pytest.raises(PermissionDeniedError):
        do_end_course(actor=nurse, course_id=course.pk, outcome="completed", reason="done")
    assert _state() == before
    do_end_course(actor=prescriber, course_id=course.pk, outcome="completed", reason="done")
    after = _state()
    with pytest.raises(ConflictError):
        do_end_course(actor=prescriber, course_id=course.pk, outcome="stopped", reason="again")
    assert _state() == after


def test_unanswered_link_becomes_a_nurse_task_until_closed(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    course = _course(patient, prescriber, nurse)
    ended = do_end_course(actor=prescriber, course_id=course.pk, outcome="completed", reason="done")
    assert list(selectors.open_followup_tasks(patient=patient)) == []
    later = ended.ended_at + dt.timedelta(days=7, hours=73)
    with mock.patch.object(timezone, "now", lambda: later):
        tasks = list(selectors.open_followup_tasks(patient=patient))
        assert [t.day for t in tasks] == [7]
        html = client_as(nurse).get("/safety/").content.decode()
        assert f'data-followup-task="{tasks[0].pk}"' in html
        banners = client_as(nurse).get(f"/patients/{patient.pk}/").content.decode()
        assert "Withdrawal and craving follow-up 7 days after the course went unanswered" in banners
        with pytest.raises(ValidationFailed):
            actions.do_close_followup_task(actor=nurse, followup_id=tasks[0].pk, note=" ")
        fu = actions.do_close_followup_task(
            actor=nurse, followup_id=tasks[0].pk, note="Called; SDS 1 recorded"
        )
        assert (fu.task_closed_by, fu.task_note) == (nurse, "Called; SDS 1 recorded")
        assert list(selectors.open_followup_tasks(patient=patient)) == []
        with pytest.raises(ConflictError):
            actions.do_close_followup_task(actor=nurse, followup_id=fu.pk, note="again")
    assert AuditEvent.objects.filter(action="safety_followup.close_task").count() == 1


def test_an_answered_link_is_no_task(prescriber: Any, nurse: Any, patient: Any) -> None:
    course = _course(patient, prescriber, nurse)
    ended = do_end_course(actor=prescriber, course_id=course.pk, outcome="completed", reason="done")
    fu = FollowUp.objects.get(day=7)
    with mock.patch.object(timezone, "now", lambda: ended.ended_at + dt.timedelta(days=7, hours=1)):
        a = do_submit_remote_answers(token=link_token(fu.link), answers=[4])
    assert (a.instrument_id, a.total) == ("craving", 4)
    with mock.patch.object(timezone, "now", lambda: ended.ended_at + dt.timedelta(days=8, hours=1)):
        assert list(selectors.open_followup_tasks(patient=patient)) == []
        with pytest.raises(ConflictError):
            actions.do_close_followup_task(actor=nurse, followup_id=fu.pk, note="x")


def test_end_course_through_the_safety_tab(prescriber: Any, nurse: Any, patient: Any, client_as: Any) -> None:
    _course(patient, prescriber, nurse)
    c = client_as(prescriber)
    r = c.post(
        f"/safety/patient/{patient.pk}/end-course/", {"outcome": "completed", "reason": ""}, follow=True
    )
    assert "Reason: give the reason the course ends" in r.content.decode()
    assert FollowUp.objects.count() == 0
    r = c.post(
        f"/safety/patient/{patient.pk}/end-course/",
        {"outcome": "completed", "reason": "remission"},
        follow=True,
    )
    html = r.content.decode()
    assert "Course ended; the withdrawal and craving follow-ups are scheduled." in html
    assert 'data-followup="7"' in html and 'data-followup="28"' in html
    assert "opens later" in html
