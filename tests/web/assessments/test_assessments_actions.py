"""Assessment actions: staff entry, partial forms, validation with nothing written, alerts, links, schedules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.assessments import actions, selectors
from ketaclinic.web.assessments.models import Assessment, RemoteLink, RemoteSchedule, SuicideAlert
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients.models import CareTeamMember


def counts() -> tuple[int, int, int, int, int]:
    return (
        Assessment.objects.count(),
        SuicideAlert.objects.count(),
        RemoteLink.objects.count(),
        RemoteSchedule.objects.count(),
        AuditEvent.objects.count(),
    )


def record(actor: Any, patient: Any, instrument: str, answers: list[Any], **kw: Any) -> Assessment:
    return actions.do_record_assessment(
        actor=actor,
        patient_id=patient.pk,
        instrument_id=instrument,
        answers=answers,
        context=kw.pop("context", "follow_up"),
        assessed_at=kw.pop("assessed_at", timezone.now() - dt.timedelta(minutes=1)),
        **kw,
    )


def test_record_complete_phq9(nurse: Any, patient: Any) -> None:
    a = record(nurse, patient, "gad7", [2, 2, 2, 1, 1, 1, 1], context="baseline")
    a.refresh_from_db()
    assert (a.complete, a.total, a.severity, a.flags, a.suicide_risk) == (True, 10, "moderate", [], False)
    assert (a.instrument_version, a.context, a.source, a.recorded_by_id) == (
        "1.0.0",
        "baseline",
        "staff",
        nurse.pk,
    )
    assert a.fhir_response["status"] == "completed"
    assert a.fhir_observation["code"]["coding"][0]["code"] == "70274-6"
    assert a.fhir_observation["valueQuantity"]["value"] == 10
    ev = AuditEvent.objects.filter(action="assessment.create").get()
    assert (ev.actor_id, ev.patient_id, ev.detail["total"], ev.detail["instrument"]) == (
        nurse.pk,
        patient.pk,
        10,
        "gad7",
    )
    assert SuicideAlert.objects.count() == 0


def test_partial_form_saved_incomplete_and_unscored(nurse: Any, patient: Any) -> None:
    a = record(nurse, patient, "phq9", [1, 1, None, 1, 1, 1, 1, 1, 0])
    a.refresh_from_db()
    assert (a.complete, a.total, a.severity) == (False, None, "")
    assert a.answers == [1, 1, None, 1, 1, 1, 1, 1, 0]
    assert a.fhir_response["status"] == "in-progress"
    assert a.fhir_observation is None


@pytest.mark.parametrize(
    ("instrument", "answers", "context", "field", "reason"),
    [
        ("phq9", [0] * 8 + [4], "follow_up", "item_9", "4 is out of range; allowed 0-3"),
        ("phq9", [0] * 8, "follow_up", "answers", "PHQ-9 has 9 items; got 8 answers"),
        (
            "phq9",
            [0] * 9,
            "lunch",
            "context",
            "must be one of baseline, pre_dose, post_dose_40min, post_dose_24h, follow_up",
        ),
        ("hamd", [0] * 9, "follow_up", "instrument", "unknown instrument 'hamd'"),
        (
            "cssrs-screener",
            [1, 0, 1, 0, 0, 0, 0],
            "follow_up",
            "item_3",
            "answered 1 but is asked only if item 2 = 1 (skip logic)",
        ),
        (
            "cssrs-screener",
            [0, 0, 0, 0, 0, 0, 1],
            "follow_up",
            "item_6b",
            "answered 1 but is asked only if item 6 = 1 (skip logic)",
        ),
        ("phq9", [None] * 9, "follow_up", "answers", "no item answered"),
    ],
)
def test_bad_input_rejected_nothing_written(
    nurse: Any, patient: Any, instrument: str, answers: list[Any], context: str, field: str, reason: str
) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        record(nurse, patient, instrument, answers, context=context)
    assert field in exc.value.fields
    assert exc.value.fields[field][0].startswith(reason)
    assert counts() == before


def test_every_bad_item_reported(nurse: Any, patient: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        record(nurse, patient, "gad7", [9, 0, "x", 0, 0, 0, -1])
    assert exc.value.fields == {
        "item_1": ["9 is out of range; allowed 0-3"],
        "item_3": ["'x' is not an integer"],
        "item_7": ["-1 is out of range; allowed 0-3"],
    }


def test_future_and_naive_times_rejected(nurse: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        record(nurse, patient, "gad7", [0] * 7, assessed_at=timezone.now() + dt.timedelta(hours=1))
    assert exc.value.fields == {"assessed_at": ["is in the future"]}
    with pytest.raises(ValidationFailed) as exc:
        record(nurse, patient, "gad7", [0] * 7, assessed_at=dt.datetime(2026, 1, 1, 9, 0))
    assert exc.value.fields == {"assessed_at": ["must be a timezone-aware date and time"]}
    assert counts() == before


def test_front_desk_and_other_clinic_refused(make_user: Any, other_clinic: Any, patient: Any) -> None:
    desk = make_user("front_desk")
    outsider = make_user("nurse", clinic=other_clinic)
    before = counts()
    with pytest.raises(PermissionDeniedError):
        record(desk, patient, "gad7", [0] * 7)
    with pytest.raises(NotFoundError):
        record(outsider, patient, "gad7", [0] * 7)
    assert counts() == before


def test_phq9_item9_raises_alert_to_care_team_prescriber(
    nurse: Any, prescriber: Any, prescriber2: Any, patient: Any, django_capture_on_commit_callbacks: Any
) -> None:
    CareTeamMember.objects.create(patient=patient, user=prescriber2, team_role="prescriber")
    sent: list[tuple[int, dict[str, Any]]] = []
    import ketaclinic.web.assessments.actions.records as mod

    orig = mod.notify_user
    mod.notify_user = lambda uid, ev: sent.append((uid, ev))  # type: ignore[assignment]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            a = record(nurse, patient, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, 1])
    finally:
        mod.notify_user = orig
    alert = SuicideAlert.objects.get()
    assert alert.assessment_id == a.pk
    assert alert.notified_user_ids == [prescriber2.pk]
    assert alert.reasons == [
        "PHQ-9: PHQ-9 item 9 > 0: same-day safety follow-up. (Kroenke 2001: any positive item 9 calls for a same-day safety assessment [V])"
    ]
    assert [uid for uid, _ in sent] == [prescriber2.pk]
    assert sent[0][1]["type"] == "alert" and sent[0][1]["kind"] == "suicide_risk"
    assert selectors.has_unacknowledged_suicide_alert(patient) is True
    assert AuditEvent.objects.filter(action="suicide_alert.raise", patient=patient).count() == 1


def test_alert_without_care_team_goes_to_all_clinic_prescribers(
    nurse: Any, prescriber: Any, prescriber2: Any, patient: Any
) -> None:
    record(nurse, patient, "madrs", [3, 3, 2, 2, 1, 2, 2, 1, 2, 4])
    assert SuicideAlert.objects.get().notified_user_ids == [prescriber.pk, prescriber2.pk]


@pytest.mark.parametrize(
    ("instrument", "answers", "alert"),
    [
        ("madrs", [3, 3, 2, 2, 1, 2, 2, 1, 2, 3], False),
        ("madrs", [3, 3, 2, 2, 1, 2, 2, 1, 2, 4], True),
        ("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0], False),
        ("cssrs-screener", [1, 0, 0, 0, 0, 0, 0], False),
        ("cssrs-screener", [1, 1, 1, 0, 0, 0, 0], True),
        ("cssrs-screener", [0, 0, 0, 0, 0, 1, 0], True),
        ("qids-sr16", [0] * 11 + [1] + [0] * 4, False),
        ("qids-sr16", [0] * 11 + [2] + [0] * 4, True),
        ("cssrs-screener", [1, 1, 0, 0, 1, 0, 0], True),
        ("cssrs-screener", [0, 0, 0, 0, 0, 1, 1], True),
        ("phq9", [None, None, None, None, None, None, None, None, 2], True),
    ],
)
def test_alert_triggers(
    nurse: Any, prescriber: Any, patient: Any, instrument: str, answers: list[Any], alert: bool
) -> None:
    record(nurse, patient, instrument, answers)
    assert SuicideAlert.objects.count() == (1 if alert else 0)
    assert selectors.has_unacknowledged_suicide_alert(patient) is alert


def test_acknowledge_requires_prescriber_action_and_note(nurse: Any, prescriber: Any, patient: Any) -> None:
    record(nurse, patient, "phq9", [0] * 8 + [2])
    alert = SuicideAlert.objects.get()
    before = counts()
    with pytest.raises(PermissionDeniedError):
        actions.do_acknowledge_alert(actor=nurse, alert_id=alert.pk, action="contact", note="called")
    with pytest.raises(ValidationFailed) as exc:
        actions.do_acknowledge_alert(actor=prescriber, alert_id=alert.pk, action="shrug", note=" ")
    assert exc.value.fields == {
        "action": ["must be one of safety_plan, contact, referral"],
        "note": ["document what was done"],
    }
    assert counts() == before
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    actions.do_acknowledge_alert(
        actor=prescriber, alert_id=alert.pk, action="safety_plan", note="Safety plan reviewed by phone"
    )
    alert.refresh_from_db()
    assert (alert.acknowledged_by_id, alert.action, alert.note) == (
        prescriber.pk,
        "safety_plan",
        "Safety plan reviewed by phone",
    )
    assert selectors.has_unacknowledged_suicide_alert(patient) is False
    assert AuditEvent.objects.filter(action="suicide_alert.acknowledge").count() == 1
    with pytest.raises(ConflictError):
        actions.do_acknowledge_alert(actor=prescriber, alert_id=alert.pk, action="contact", note="again")


def test_banner_until_acknowledged(nurse: Any, prescriber: Any, patient: Any) -> None:
    from ketaclinic.web.patients.tabs import chart_banners

    def suicide_banners() -> list[dict[str, str]]:
        # Other apps (e.g. screening) add their own banners to the chart header: look at ours only.
        return [b for b in chart_banners(patient) if b["text"].startswith("Suicide-risk alert")]

    assert suicide_banners() == []
    record(nurse, patient, "phq9", [0] * 8 + [1])
    banners = suicide_banners()
    assert len(banners) == 1 and banners[0]["level"] == "danger"
    assert banners[0]["text"].startswith("Suicide-risk alert awaiting a prescriber's acknowledgement (1).")
    assert banners[0]["url"] == f"/assessments/patient/{patient.pk}/#alerts"
    actions.do_acknowledge_alert(
        actor=prescriber, alert_id=SuicideAlert.objects.get().pk, action="contact", note="Spoke with patient"
    )
    assert suicide_banners() == []


# ------------------------------------------------------------------ remote links


def test_remote_link_lifecycle(nurse: Any, prescriber: Any, patient: Any) -> None:
    link, url = actions.do_create_remote_link(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", valid_hours=48
    )
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert actions.resolve_link(token).pk == link.pk
    a = actions.do_submit_remote_answers(token=token, answers=[2, 2, 2, 2, 2, 2, 2, 2, 1])
    assert (a.source, a.total, a.severity, a.recorded_by_id, a.remote_link_id) == (
        "remote",
        17,
        "moderately_severe",
        None,
        link.pk,
    )
    assert SuicideAlert.objects.get().assessment_id == a.pk
    link.refresh_from_db()
    assert link.used_at is not None and link.assessment_id == a.pk
    before = counts()
    with pytest.raises(actions.LinkUnavailable) as exc:
        actions.do_submit_remote_answers(token=token, answers=[0] * 9)
    assert exc.value.reason == "answered"
    assert counts() == before


def test_remote_requires_every_item_and_keeps_link_open(nurse: Any, patient: Any) -> None:
    _, url = actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="gad7")
    token = url.rstrip("/").rsplit("/", 1)[1]
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_submit_remote_answers(token=token, answers=[1, None, 1, 1, None, 1, 1])
    assert exc.value.fields == {
        "item_2": ["please answer this question"],
        "item_5": ["please answer this question"],
    }
    assert counts() == before
    assert actions.resolve_link(token).used_at is None


def test_tampered_revoked_expired_links(nurse: Any, patient: Any) -> None:
    link, url = actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="gad7")
    token = url.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(actions.LinkUnavailable) as exc:
        actions.resolve_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert exc.value.reason == "invalid"
    actions.do_revoke_remote_link(actor=nurse, link_id=link.pk)
    with pytest.raises(actions.LinkUnavailable) as exc:
        actions.resolve_link(token)
    assert exc.value.reason == "revoked"
    with pytest.raises(ConflictError):
        actions.do_revoke_remote_link(actor=nurse, link_id=link.pk)
    link2, url2 = actions.do_create_remote_link(
        actor=nurse, patient_id=patient.pk, instrument_id="gad7", valid_hours=1
    )
    RemoteLink.objects.filter(pk=link2.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(actions.LinkUnavailable) as exc:
        actions.resolve_link(url2.rstrip("/").rsplit("/", 1)[1])
    assert exc.value.reason == "expired"


def test_remote_link_refuses_clinician_instruments(nurse: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="madrs")
    assert exc.value.fields == {"instrument": ["madrs cannot be sent as a remote questionnaire"]}
    with pytest.raises(ValidationFailed) as exc:
        actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="phq9", valid_hours=0)
    assert exc.value.fields == {"valid_hours": ["must be between 1 and 336 hours"]}
    assert counts() == before


def test_post_dose_schedule_creates_link_24h_after_dose(nurse: Any, patient: Any) -> None:
    actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="post_dose", delay_hours=24
    )
    dose = timezone.now() - dt.timedelta(hours=2)
    links = actions.do_schedule_post_dose_links(patient=patient, dose_time=dose, actor=nurse)
    assert len(links) == 1
    link = links[0]
    assert (link.instrument_id, link.available_from, link.expires_at, link.context) == (
        "phq9",
        dose + dt.timedelta(hours=24),
        dose + dt.timedelta(hours=24 + 72),
        "post_dose_24h",
    )
    with pytest.raises(actions.LinkUnavailable) as exc:
        actions.resolve_link(actions.link_token(link))
    assert exc.value.reason == "scheduled"


def test_interval_schedule_materialises_due_links(nurse: Any, patient: Any) -> None:
    sched = actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="interval", interval_days=7
    )
    first_due = sched.next_due_at
    assert first_due is not None
    made = actions.materialise_due_links(now=first_due + dt.timedelta(minutes=1))
    assert [(link.instrument_id, link.available_from) for link in made] == [("phq9", first_due)]
    sched.refresh_from_db()
    assert sched.next_due_at == first_due + dt.timedelta(days=7)
    assert actions.materialise_due_links(now=first_due + dt.timedelta(days=3)) == []
    # Missed weeks (due days 7 and 14) are not back-filled: one link, opening at the latest due time (day 21,
    # not day 7 whose 72 h would already have run out), next due moved past now.
    late = first_due + dt.timedelta(days=22)
    made = actions.materialise_due_links(now=late)
    assert [(link.available_from, link.expires_at) for link in made] == [
        (first_due + dt.timedelta(days=21), first_due + dt.timedelta(days=24))
    ]
    assert made[0].status_at(late) == "open"
    sched.refresh_from_db()
    assert sched.next_due_at == first_due + dt.timedelta(days=28)
    assert (
        AuditEvent.objects.filter(action="remote_link.create").order_by("pk").last().detail["missed_periods"]
        == 2
    )
    # Later than the link's validity into the period: the link opens now instead of being born expired.
    very_late = first_due + dt.timedelta(days=32)
    made = actions.materialise_due_links(now=very_late)
    assert [(link.available_from, link.expires_at) for link in made] == [
        (very_late, very_late + dt.timedelta(hours=72))
    ]
    sched.refresh_from_db()
    assert sched.next_due_at == first_due + dt.timedelta(days=35)
    actions.do_deactivate_schedule(actor=nurse, schedule_id=sched.pk)
    assert actions.materialise_due_links(now=first_due + dt.timedelta(days=60)) == []


def test_schedule_validation(nurse: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_create_schedule(
            actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="interval", interval_days="x"
        )
    assert exc.value.fields == {"interval_days": ["must be a whole number of days"]}
    with pytest.raises(ValidationFailed) as exc:
        actions.do_create_schedule(actor=nurse, patient_id=patient.pk, instrument_id="phq9", kind="monthly")
    assert exc.value.fields == {"kind": ["must be interval or post_dose"]}
    assert counts() == before


def test_outcomes_with_registered_dose_provider(nurse: Any, patient: Any) -> None:
    from ketaclinic.web.assessments import providers

    dose = timezone.now() - dt.timedelta(days=3)
    record(nurse, patient, "phq9", [2, 2, 2, 2, 2, 2, 2, 2, 0], assessed_at=dose - dt.timedelta(days=1))  # 16
    record(
        nurse, patient, "phq9", [1, 1, 1, 1, 0, 0, 0, 0, 0], assessed_at=dose + dt.timedelta(hours=24)
    )  # 4
    record(nurse, patient, "phq9", [1, 1, None, 1, 0, 0, 0, 0, 0], assessed_at=dose + dt.timedelta(hours=30))
    assert selectors.trends_for_patient(patient)[0].outcome.baseline is None  # no provider: no dose known

    def prov(p: Any) -> list[dt.datetime]:
        return [dose] if p.pk == patient.pk else []

    providers.register_dose_times_provider(prov)
    try:
        (trend,) = selectors.trends_for_patient(patient)
    finally:
        providers.DOSE_TIMES_PROVIDERS.remove(prov)
    o = trend.outcome
    assert (o.baseline.total if o.baseline else None, o.latest.total if o.latest else None) == (16, 4)
    assert (o.response, o.remission, o.time_to_first_response) == (True, True, dt.timedelta(hours=24))
    assert len(trend.incomplete) == 1


def test_peg_mean_total_is_stored_to_two_decimals_and_sum_totals_stay_integers(
    nurse: Any, patient: Any
) -> None:
    peg = record(nurse, patient, "peg", [1, 2, 2])
    phq = record(nurse, patient, "phq9", [1, 1, 1, 1, 1, 0, 0, 0, 0])
    peg.refresh_from_db()
    phq.refresh_from_db()
    # an integer column would have stored the PEG mean 1.67 as 1
    assert (peg.total, type(peg.total), peg.severity) == (1.67, float, "")
    assert (phq.total, type(phq.total)) == (5, int)
    assert peg.fhir_observation["valueQuantity"]["value"] == 1.67
    answers = {i["linkId"]: i.get("answer") for i in peg.fhir_response["item"]}
    assert answers["peg-total"] == [{"valueDecimal": 1.67}]
    ev = AuditEvent.objects.filter(action="assessment.create", object_id=str(peg.pk)).get()
    assert ev.detail["total"] == 1.67
    assert [tr.definition.id for tr in selectors.trends_for_patient(patient)] == ["phq9", "peg"]
