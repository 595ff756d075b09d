"""Telehealth visits: the jurisdiction rules decide, refusals store nothing, consent, licences, policy and the chart tab."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.telehealth import actions
from ketaclinic.web.telehealth.models import ClinicianLicence, TelehealthConsent, Visit

UTC = dt.UTC
DEC = dt.datetime(2026, 12, 15, 17, 0, tzinfo=UTC)
FEB = dt.datetime(2027, 2, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def licensed(prescriber: User, clinic: Clinic) -> User:
    ClinicianLicence.objects.create(
        clinic=clinic, user=prescriber, jurisdiction="US-CA", recorded_by=prescriber, recorded_at=DEC
    )
    return prescriber


@pytest.fixture
def consented(patient: Patient, prescriber: User) -> TelehealthConsent:
    return actions.do_record_telehealth_consent(actor=prescriber, patient_id=patient.pk, method="written")


def schedule(actor: User, patient: Patient, **kw: Any) -> Visit:
    base: dict[str, Any] = {
        "clinician_id": actor.pk,
        "scheduled_for": DEC,
        "modality": "video",
        "patient_jurisdiction": "US-CA",
        "activity": "follow_up",
        "video_link": "https://video.example.org/room/42",
    }
    base.update(kw)
    return actions.do_schedule_visit(actor=actor, patient_id=patient.pk, **base)


def snapshot() -> tuple[int, int]:
    return Visit.objects.count(), AuditEvent.objects.count()


def refused(fn: Callable[[], Any], field: str) -> ValidationFailed:
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        fn()
    assert field in exc.value.fields, exc.value.fields
    assert snapshot() == before
    return exc.value


def test_allowed_video_follow_up_is_stored_with_its_decision_link_and_consent(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    v = schedule(licensed, patient)
    assert (v.decision, v.findings, v.ruleset_version, v.consent_id) == (
        "allowed",
        [],
        "2026.1.0",
        consented.pk,
    )
    assert v.video_link == "https://video.example.org/room/42"
    assert [t["code"] for t in v.result["trace"] if t["fired"]] == []
    ev = AuditEvent.objects.filter(action="telehealth.visit_schedule").get()
    assert (ev.patient_id, ev.detail["decision"]) == (patient.pk, "allowed")


def test_prescribing_by_video_relies_on_the_dea_flexibility_until_the_end_of_2026(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    v = schedule(licensed, patient, activity="prescribe", drug="ketamine")
    assert v.decision == "allowed"
    assert [(f["code"], f["level"]) for f in v.findings] == [
        ("dea_telemedicine_flexibility", "info"),
        ("us_state_pdmp_check", "info"),
    ]
    err = refused(
        lambda: schedule(licensed, patient, activity="prescribe", drug="ketamine", scheduled_for=FEB),
        "modality",
    )
    assert err.fields["modality"][0].startswith("Prescribing a controlled substance")
    assert "21 U.S.C. 829(e)" in err.fields["modality"][0]


def test_a_completed_in_person_evaluation_then_allows_remote_prescribing_by_telephone(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    ev = schedule(
        licensed, patient, modality="in_person", activity="evaluation", video_link="", scheduled_for=DEC
    )
    refused(
        lambda: schedule(
            licensed,
            patient,
            modality="telephone",
            video_link="",
            activity="prescribe",
            drug="ketamine",
            scheduled_for=FEB,
        ),
        "modality",
    )
    actions.do_close_visit(actor=licensed, visit_id=ev.pk, completed=True)
    v = schedule(
        licensed,
        patient,
        modality="telephone",
        video_link="",
        activity="prescribe",
        drug="ketamine",
        scheduled_for=FEB,
    )
    assert (v.decision, [f["code"] for f in v.findings]) == ("allowed", ["us_state_pdmp_check"])


def test_esketamine_at_a_remote_visit_is_refused_naming_rems(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    err = refused(lambda: schedule(licensed, patient, activity="administer", drug="esketamine"), "modality")
    assert [m.split(" (source")[0][:40] for m in err.fields["modality"]] == [
        "Esketamine (Spravato) is only given in a",
        "Every dose is given and monitored in the",
    ]


def test_needs_review_requires_a_written_note(licensed: User, patient: Patient) -> None:
    err = refused(lambda: schedule(licensed, patient), "review_note")
    assert err.fields["review_note"] == [
        "required: this visit needs review (No consent to telehealth on file for this visit)"
    ]
    v = schedule(
        licensed, patient, review_note="Consent taken verbally at the start of the call; form to follow."
    )
    assert (v.decision, v.consent_id) == ("needs_review", None)


def test_licensure_comes_from_the_licences_on_file(
    prescriber: User, patient: Patient, consented: TelehealthConsent, clinic: Clinic
) -> None:
    err = refused(lambda: schedule(prescriber, patient), "review_note")
    assert "Not confirmed: the clinician must hold a licence" in err.fields["review_note"][0]
    ClinicianLicence.objects.create(
        clinic=clinic, user=prescriber, jurisdiction="US-NY", recorded_by=prescriber, recorded_at=DEC
    )
    err = refused(lambda: schedule(prescriber, patient), "clinician")
    assert err.fields["clinician"][0].startswith(
        "The clinician must hold a licence in the state where the patient is"
    )
    ClinicianLicence.objects.create(
        clinic=clinic,
        user=prescriber,
        jurisdiction="US-CA",
        expires_on=dt.date(2026, 12, 1),
        recorded_by=prescriber,
        recorded_at=DEC,
    )
    refused(lambda: schedule(prescriber, patient), "clinician")  # expired before the visit


def test_clinic_policy_in_person_evaluation_within_a_year(
    licensed: User, patient: Patient, consented: TelehealthConsent, admin_user: User, clinic: Clinic
) -> None:
    actions.do_set_telehealth_policy(
        actor=admin_user, clinic=clinic, policy={"in_person_evaluation_within_days": 365}
    )
    err = refused(lambda: schedule(licensed, patient, activity="prescribe", drug="ketamine"), "modality")
    assert err.fields["modality"][0].startswith(
        "An in-person evaluation within 365 days before the first dose (2026-12-15)"
    )
    assert "Clinic policy" in err.fields["modality"][0]
    with pytest.raises(ValidationFailed) as exc:
        actions.do_set_telehealth_policy(
            actor=admin_user, clinic=clinic, policy={"remote_modalities": ["fax"]}
        )
    assert exc.value.fields == {"remote_modalities": ["must be a list of video, telephone"]}
    with pytest.raises(PermissionDeniedError):
        actions.do_set_telehealth_policy(actor=licensed, clinic=clinic, policy={})


@pytest.mark.parametrize(
    ("kw", "field", "reason"),
    [
        ({"video_link": ""}, "video_link", "required for a video visit: the link of the clinic's video tool"),
        (
            {"video_link": "http://insecure.example.org/x"},
            "video_link",
            "must be an https:// address of at most 500 characters",
        ),
        ({"modality": "telephone"}, "video_link", "only a video visit has a video link"),
        ({"modality": "carrier pigeon"}, "modality", "must be in person, video or telephone"),
        (
            {"patient_jurisdiction": "FR"},
            "patient_jurisdiction",
            "must be a US state, the United Kingdom or an Australian state or territory",
        ),
        ({"activity": "prescribe"}, "drug", "required for prescribing or a dosing session"),
        ({"scheduled_for": None}, "scheduled_for", "required date and time"),
        ({"scheduled_for": dt.datetime(2026, 12, 15, 9, 0)}, "scheduled_for", "must carry a time zone"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    licensed: User,
    patient: Patient,
    consented: TelehealthConsent,
    kw: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    err = refused(lambda: schedule(licensed, patient, **kw), field)
    assert err.fields[field] == [reason]


def test_who_may_schedule(
    licensed: User, patient: Patient, front_desk: User, make_user: Callable[..., User], other_clinic: Clinic
) -> None:
    before = snapshot()
    with pytest.raises(PermissionDeniedError):
        schedule(front_desk, patient, clinician_id=licensed.pk)
    outsider = make_user("prescriber", clinic=other_clinic, username="outsider")
    with pytest.raises(NotFoundError):
        schedule(outsider, patient)
    assert snapshot() == before
    therapist = make_user("therapist", username="therapist")
    refused(lambda: schedule(licensed, patient, clinician_id=front_desk.pk), "clinician")
    v = schedule(therapist, patient, activity="therapy", review_note="Licence check pending with the board.")
    assert (v.clinician_id, v.decision) == (therapist.pk, "needs_review")


def test_consent_withdrawal_ends_it_from_then_on(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    actions.do_withdraw_telehealth_consent(actor=licensed, consent_id=consented.pk)
    consented.refresh_from_db()
    assert consented.withdrawn_at is not None and consented.withdrawn_by_id == licensed.pk
    refused(lambda: schedule(licensed, patient, scheduled_for=FEB), "review_note")
    assert list(
        AuditEvent.objects.filter(patient=patient).values_list("action", flat=True).order_by("pk")
    ) == [
        "telehealth.consent_record",
        "telehealth.consent_withdraw",
    ]


def test_cancel_needs_a_reason_and_a_closed_visit_stays_closed(
    licensed: User, patient: Patient, consented: TelehealthConsent
) -> None:
    v = schedule(licensed, patient)
    with pytest.raises(ValidationFailed) as exc:
        actions.do_close_visit(actor=licensed, visit_id=v.pk, completed=False)
    assert exc.value.fields == {"reason": ["required to cancel a visit"]}
    actions.do_close_visit(actor=licensed, visit_id=v.pk, completed=False, reason="Patient unwell")
    from ketaclinic.web.lib.errors import ConflictError

    with pytest.raises(ConflictError):
        actions.do_close_visit(actor=licensed, visit_id=v.pk, completed=True)
    v.refresh_from_db()
    assert (v.status, v.cancel_reason) == ("cancelled", "Patient unwell")


def test_chart_tab_shows_words_and_sources(
    licensed: User, patient: Patient, consented: TelehealthConsent, client_as: Callable[[User], Client]
) -> None:
    schedule(licensed, patient, activity="prescribe", drug="ketamine")
    c = client_as(licensed)
    html = c.get(f"/telehealth/patients/{patient.pk}/").content.decode()
    assert "Allowed" in html and "United States — CA" in html and "Prescribing ketamine or esketamine" in html
    assert "90 FR 61301" in html and 'title="dea_telemedicine_flexibility"' in html
    assert "Join video" in html and "https://video.example.org/room/42" in html
    assert ">dea_telemedicine_flexibility<" not in html and "needs_review" not in html.replace(
        'data-decision="needs_review"', ""
    )


def test_schedule_form_refusal_renders_400_with_field_labels(
    licensed: User, patient: Patient, consented: TelehealthConsent, client_as: Callable[[User], Client]
) -> None:
    c = client_as(licensed)
    before = snapshot()
    res = c.post(
        f"/telehealth/patients/{patient.pk}/visits",
        {
            "scheduled_for": "2026-12-15T09:00",
            "modality": "video",
            "patient_jurisdiction": "US-CA",
            "activity": "administer",
            "drug": "esketamine",
            "clinician": str(licensed.pk),
            "video_link": "https://video.example.org/room/1",
        },
    )
    assert res.status_code == 400
    html = res.content.decode()
    assert (
        "Nothing was saved." in html
        and '<span class="field-name">How</span>: Esketamine (Spravato) is only given' in html
    )
    assert Visit.objects.count() == before[0]
    res = c.post(
        f"/telehealth/patients/{patient.pk}/visits",
        {
            "scheduled_for": "2026-12-15T09:00",
            "modality": "video",
            "patient_jurisdiction": "US-CA",
            "activity": "follow_up",
            "clinician": str(licensed.pk),
            "video_link": "https://video.example.org/room/1",
        },
    )
    assert res.status_code == 302 and Visit.objects.count() == before[0] + 1
    assert c.post(f"/telehealth/patients/{patient.pk}/visits", {"scheduled_for": "soon"}).status_code == 400


def test_clinic_settings_page_for_admins_only(
    admin_user: User, licensed: User, clinic: Clinic, client_as: Callable[[User], Client]
) -> None:
    c = client_as(admin_user)
    assert c.get("/telehealth/clinic/").status_code == 200
    res = c.post(
        "/telehealth/clinic/",
        {"form": "policy", "in_person_evaluation_within_days": "365", "remote_modalities": ["video"]},
    )
    assert res.status_code == 302
    assert clinic.telehealth_policy.policy == {
        "in_person_evaluation_within_days": 365,
        "rely_on_flexibilities": False,
        "remote_modalities": ["video"],
        "require_telehealth_consent": False,
    }
    res = c.post(
        "/telehealth/clinic/",
        {"form": "licence", "user": str(licensed.pk), "jurisdiction": "US-NY", "expires_on": "2020-01-01"},
    )
    assert res.status_code == 400 and "is in the past" in res.content.decode()
    assert client_as(licensed).get("/telehealth/clinic/").status_code == 404
