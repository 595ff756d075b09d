"""Therapy sessions around dosing and psychotherapy notes: the window rules, and a privacy test proving that a note
is seen only by its author and whom the author shares it with, and leaves in exports only under the patient's
authorisation (45 CFR 164.501, 164.508(a)(2))."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.access import access_psychotherapy_note_by_id
from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.therapy import actions, selectors
from ketaclinic.web.therapy.fhir import export_bundle
from ketaclinic.web.therapy.models import PsychotherapyNote, PsychotherapyNoteShare, TherapySession
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

SECRET = "Process note: the patient spoke about a childhood memory that must stay private."


@pytest.fixture
def therapist(make_user: Callable[..., User]) -> User:
    return make_user("therapist", username="therapist")


@pytest.fixture
def therapist2(make_user: Callable[..., User]) -> User:
    return make_user("therapist", username="therapist2")


@pytest.fixture
def dosed(clinic: Clinic, site: Site, patient: Patient, prescriber: User) -> DosingSession:
    course = TreatmentCourse.objects.create(
        clinic=clinic,
        patient=patient,
        protocol_id="test-iv",
        protocol_version=1,
        protocol_snapshot={},
        indication="TRD",
        started_by=prescriber,
        started_at=timezone.now() - dt.timedelta(days=10),
    )
    at = timezone.now() - dt.timedelta(days=3)
    return DosingSession.objects.create(
        clinic=clinic,
        site=site,
        patient=patient,
        course=course,
        scheduled_for=at,
        first_dose_at=at,
        status="discharged",
    )


def record(actor: User, patient: Patient, **kw: Any) -> TherapySession:
    base: dict[str, Any] = {
        "kind": "psychotherapy",
        "approach": "cbt",
        "modality": "video",
        "held_at": timezone.now() - dt.timedelta(hours=2),
        "duration_min": 50,
    }
    base.update(kw)
    return actions.do_record_therapy_session(actor=actor, patient_id=patient.pk, **base)


def counts() -> tuple[int, int, int]:
    return TherapySession.objects.count(), PsychotherapyNote.objects.count(), AuditEvent.objects.count()


def test_integration_within_the_clinic_window(
    therapist: User, patient: Patient, dosed: DosingSession, admin_user: User, clinic: Clinic
) -> None:
    s = record(
        therapist,
        patient,
        kind="integration",
        approach="integration",
        dosing_session_id=dosed.pk,
        themes="Connection",
        wellbeing=6,
    )
    assert (s.dosing_session_id, s.wellbeing, s.therapist_id) == (dosed.pk, 6, therapist.pk)
    assert [r["state"] for r in selectors.integration_status(patient, clinic)] == ["done"]
    actions.do_set_integration_window(actor=admin_user, clinic=clinic, days=2)
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        record(therapist, patient, kind="integration", approach="integration", dosing_session_id=dosed.pk)
    assert exc.value.fields["held_at"][0].startswith(
        "an integration session must be after the dosing session and within the clinic's window of 2 days"
    )
    assert counts() == before
    # With the shorter window, the session held 3 days after the dose no longer counts.
    assert [r["state"] for r in selectors.integration_status(patient, clinic)] == ["overdue"]


def test_preparation_must_come_before_the_dose_and_state_an_intention(
    therapist: User, patient: Patient, dosed: DosingSession
) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        record(therapist, patient, kind="preparation", approach="integration", dosing_session_id=dosed.pk)
    assert exc.value.fields == {"intention": ["required for a preparation session: the patient's intention"]}
    with pytest.raises(ValidationFailed) as exc:
        record(
            therapist,
            patient,
            kind="preparation",
            approach="integration",
            dosing_session_id=dosed.pk,
            intention="Be present",
        )
    assert exc.value.fields["held_at"][0].startswith(
        "a preparation session must be before the dosing session"
    )
    s = record(
        therapist,
        patient,
        kind="preparation",
        approach="integration",
        dosing_session_id=dosed.pk,
        intention="Be present",
        held_at=dosed.first_dose_at - dt.timedelta(days=1),
    )
    assert s.intention == "Be present"
    assert counts()[0] == before[0] + 1


@pytest.mark.parametrize(
    ("kw", "field", "reason"),
    [
        ({"kind": "massage"}, "kind", "must be preparation, integration or psychotherapy"),
        ({"duration_min": 2}, "duration_min", "must be from 5 to 480 minutes"),
        ({"wellbeing": 11}, "wellbeing", "must be a whole number from 0 to 10"),
        ({"held_at": None}, "held_at", "required date and time"),
        (
            {"kind": "integration"},
            "dosing_session",
            "required: a integration session belongs to a dosing session",
        ),
        ({"dosing_session_id": 999999}, "dosing_session", "no such dosing session for this patient"),
    ],
)
def test_bad_session_input_names_the_field(
    therapist: User, patient: Patient, kw: dict[str, Any], field: str, reason: str
) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        record(therapist, patient, **kw)
    assert exc.value.fields[field] == [reason]
    assert counts() == before


def test_front_desk_and_nurse_cannot_record_therapy(front_desk: User, nurse: User, patient: Patient) -> None:
    before = counts()
    for user in (front_desk, nurse):
        with pytest.raises(PermissionDeniedError):
            record(user, patient, note_text=SECRET)
    assert counts() == before


def test_psychotherapy_notes_stay_private(
    therapist: User,
    therapist2: User,
    prescriber: User,
    nurse: User,
    auditor: User,
    admin_user: User,
    make_user: Callable[..., User],
    other_clinic: Clinic,
    patient: Patient,
    client_as: Callable[[User], Client],
) -> None:
    """The access test: only the author, then a colleague the author shared with, can read the note; every other
    role (including the auditor, the clinic admin, a prescriber and another therapist) cannot, by any route."""
    session = record(therapist, patient, themes="Worked on sleep routine", note_text=SECRET)
    note = PsychotherapyNote.objects.get(session=session)
    outsider = make_user("therapist", clinic=other_clinic, username="outsider")
    others = [therapist2, prescriber, nurse, auditor, admin_user, outsider]

    # The author reads it (audited).
    assert access_psychotherapy_note_by_id(therapist, note.pk).text == SECRET
    assert (
        AuditEvent.objects.filter(action="therapy.note_view", actor=therapist, object_id=str(note.pk)).count()
        == 1
    )
    assert client_as(therapist).get(f"/therapy/notes/{note.pk}/").status_code == 200

    for user in others:
        with pytest.raises(NotFoundError):
            access_psychotherapy_note_by_id(user, note.pk)
        assert list(selectors.notes_visible_to(user, patient)) == []
        c = client_as(user)
        assert c.get(f"/therapy/notes/{note.pk}/").status_code == 404
        if user is admin_user:  # no clinical reads in the role: the tab and export are refused outright
            assert c.get(f"/therapy/patients/{patient.pk}/").status_code == 403
            assert c.get(f"/therapy/patients/{patient.pk}/export.json").status_code == 403
        elif user is not outsider:
            tab = c.get(f"/therapy/patients/{patient.pk}/").content.decode()
            assert (
                SECRET not in tab
                and "Worked on sleep routine" in tab
                and "A psychotherapy note is kept apart" in tab
            )
            exported = c.get(f"/therapy/patients/{patient.pk}/export.json").content.decode()
            assert SECRET not in exported and base64.b64encode(SECRET.encode()).decode() not in exported
        with pytest.raises(NotFoundError):
            actions.do_share_psychotherapy_note(actor=user, note_id=note.pk, user_id=user.pk)
    assert PsychotherapyNoteShare.objects.count() == 0

    # The author shares with the prescriber: now (and only now) the prescriber reads it, and cannot re-share it.
    actions.do_share_psychotherapy_note(actor=therapist, note_id=note.pk, user_id=prescriber.pk)
    assert access_psychotherapy_note_by_id(prescriber, note.pk).text == SECRET
    assert client_as(prescriber).get(f"/therapy/notes/{note.pk}/").status_code == 200
    with pytest.raises(PermissionDeniedError):
        actions.do_share_psychotherapy_note(actor=prescriber, note_id=note.pk, user_id=nurse.pk)
    for user in [therapist2, nurse, auditor, admin_user, outsider]:
        with pytest.raises(NotFoundError):
            access_psychotherapy_note_by_id(user, note.pk)
    # The audit trail records that a note was created, viewed and shared, never its text.
    assert not any(
        SECRET in json.dumps(e.detail) or SECRET in e.object_repr for e in AuditEvent.objects.all()
    )


def test_exports_leave_notes_out_unless_the_patient_authorises(
    therapist: User, prescriber: User, patient: Patient
) -> None:
    session = record(therapist, patient, wellbeing=7, session_rating=9, note_text=SECRET)
    today = timezone.localdate()
    bundle, notes = export_bundle(patient, therapist, on=today)
    assert notes == 0
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Encounter",
        "Observation",
        "Observation",
    ]
    assert all(validate_resource(e["resource"]) == [] for e in bundle["entry"])
    assert validate_resource(bundle) == []

    auth = actions.do_record_notes_authorisation(
        actor=therapist,
        patient_id=patient.pk,
        recipient="Dr Referrer",
        purpose="continuity of care",
        signed_on=today,
        expires_on=today + dt.timedelta(days=90),
    )
    bundle, notes = export_bundle(patient, therapist, on=today)
    assert notes == 1
    doc = bundle["entry"][-1]["resource"]
    assert (
        doc["resourceType"] == "DocumentReference"
        and doc["context"]["encounter"][0]["reference"] == f"Encounter/therapy-{session.pk}"
    )
    assert base64.b64decode(doc["content"][0]["attachment"]["data"]).decode() == SECRET
    assert validate_resource(doc) == []
    # Even with the authorisation, a user the note was not shared with exports no note.
    assert export_bundle(patient, prescriber, on=today)[1] == 0
    # After the authorisation expires or is revoked, the note is left out again.
    assert export_bundle(patient, therapist, on=today + dt.timedelta(days=91))[1] == 0
    actions.do_revoke_notes_authorisation(actor=therapist, authorisation_id=auth.pk)
    assert export_bundle(patient, therapist, on=today)[1] == 0


def test_authorisation_needs_recipient_purpose_and_an_end(therapist: User, patient: Patient) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_notes_authorisation(
            actor=therapist,
            patient_id=patient.pk,
            recipient="",
            purpose="x",
            signed_on=timezone.localdate(),
            expires_on=None,
        )
    assert exc.value.fields == {
        "recipient": ["required, at most 200 characters"],
        "expires_on": ["required date: an authorisation must have an end"],
    }
    assert AuditEvent.objects.count() == before


def test_record_form_refusal_renders_400_naming_the_field(
    therapist: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    c = client_as(therapist)
    before = counts()
    res = c.post(
        f"/therapy/patients/{patient.pk}/sessions",
        {
            "kind": "psychotherapy",
            "approach": "cbt",
            "modality": "video",
            "held_at": "2026-11-30T10:00",
            "duration_min": "abc",
        },
    )
    assert res.status_code == 400
    assert '<span class="field-name">Duration</span>: must be a whole number' in res.content.decode()
    assert counts()[:2] == before[:2]


def test_psychotherapy_notes_are_insert_only_in_the_database(
    therapist: User, prescriber: User, patient: Patient
) -> None:
    from django.db import DatabaseError, transaction

    session = record(therapist, patient, note_text=SECRET)
    note = PsychotherapyNote.objects.get(session=session)
    actions.do_share_psychotherapy_note(actor=therapist, note_id=note.pk, user_id=prescriber.pk)
    for fn in (
        lambda: PsychotherapyNote.objects.filter(pk=note.pk).update(text="rewritten"),
        lambda: PsychotherapyNote.objects.filter(pk=note.pk).delete(),
        lambda: PsychotherapyNoteShare.objects.filter(note=note).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            fn()
    note.refresh_from_db()
    assert note.text == SECRET and note.shares.count() == 1
