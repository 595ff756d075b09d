"""The access chokepoint (ketaclinic.web.access): clinic scoping, permission, audit, and 404 for another clinic's
record exactly as for a missing one. CI runs this module alone with 100 % branch coverage of the access module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client, RequestFactory
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web import access as A
from ketaclinic.web.accounts.models import User
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError
from ketaclinic.web.monitoring.actions import do_register_device
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.therapy.actions import do_record_therapy_session, do_share_psychotherapy_note
from ketaclinic.web.therapy.models import PsychotherapyNote
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse


def make_session(clinic: Clinic, site: Site, patient: Patient, by: User) -> DosingSession:
    course = TreatmentCourse.objects.create(
        clinic=clinic, patient=patient, protocol_id="test-iv", protocol_version=1, protocol_snapshot={},
        indication="TRD", started_by=by, started_at=timezone.now() - dt.timedelta(days=2),
    )  # fmt: skip
    return DosingSession.objects.create(
        clinic=clinic, site=site, patient=patient, course=course, scheduled_for=timezone.now()
    )


@pytest.fixture
def far(other_clinic: Clinic, prescriber: User) -> DosingSession:
    """A session of another clinic (its own site and patient)."""
    far_site = Site.objects.create(clinic=other_clinic, name="Far", jurisdiction="US-CA")
    far_patient = Patient.objects.create(
        clinic=other_clinic, home_site=far_site, mrn="FAR-1", given_name="Fa", family_name="Raway",
        birth_date=dt.date(1980, 1, 1), sex_at_birth="female",
    )  # fmt: skip
    return make_session(other_clinic, far_site, far_patient, prescriber)


@pytest.fixture
def session(clinic: Clinic, site: Site, patient: Patient, prescriber: User) -> DosingSession:
    return make_session(clinic, site, patient, prescriber)


def rows() -> list[tuple[str, str, str, int | None, int | None]]:
    return [
        (e.action, e.object_type, e.object_id, e.clinic_id, e.patient_id)
        for e in AuditEvent.objects.order_by("pk")
    ]


def test_user_clinics_are_the_users_memberships_cached_for_the_request(nurse: User, clinic: Clinic) -> None:
    first = A.user_clinics(nurse)
    assert [c.pk for c in first] == [clinic.pk] == A.user_clinic_ids(nurse)
    assert A.user_clinics(nurse) is first  # cached on the user object
    assert (A.user_clinics(None), A.user_clinic_ids(None)) == ([], [])


def test_access_clinic_by_id(nurse: User, clinic: Clinic, other_clinic: Clinic) -> None:
    assert A.access_clinic_by_id(nurse, clinic.pk) == clinic
    assert A.access_clinic_by_id(nurse, clinic.pk, perm=Perm.CLINICAL_VIEW) == clinic
    with pytest.raises(NotFoundError, match=r"^no such clinic$"):
        A.access_clinic_by_id(nurse, other_clinic.pk)
    with pytest.raises(PermissionDeniedError, match=r"^your role in this clinic does not allow ledger.view$"):
        A.access_clinic_by_id(nurse, clinic.pk, perm=Perm.LEDGER_VIEW)


def _request(user: User, clinic: Clinic | None) -> Any:
    request = RequestFactory().get("/somewhere/")
    request.user = user
    request.clinic = clinic  # type: ignore[attr-defined]
    return request


def test_active_clinic_checks_the_permission_and_audits_when_asked(
    nurse: User, front_desk: User, clinic: Clinic
) -> None:
    with pytest.raises(NotFoundError, match=r"^no active clinic$"):
        A.active_clinic(_request(nurse, None), Perm.CLINICAL_VIEW)
    with pytest.raises(
        PermissionDeniedError, match=r"^your role in this clinic does not allow clinical.view$"
    ):
        A.active_clinic(_request(front_desk, clinic), Perm.CLINICAL_VIEW)
    with pytest.raises(PermissionDeniedError, match=r"^not for you$"):
        A.active_clinic(_request(front_desk, clinic), Perm.CLINICAL_VIEW, message="not for you")
    assert rows() == []
    assert A.active_clinic(_request(nurse, clinic), Perm.CLINICAL_VIEW) == clinic
    assert rows() == []
    assert A.active_clinic(
        _request(nurse, clinic), Perm.CLINICAL_VIEW, audit_action="x.page", detail={"n": 2}
    )
    event = AuditEvent.objects.get()
    assert (event.action, event.clinic_id, event.actor_id, event.detail) == (
        "x.page",
        clinic.pk,
        nurse.pk,
        {"n": 2},
    )


def test_patients_visible_to(nurse: User, custodian: User, patient: Patient, other_clinic: Clinic) -> None:
    assert list(A.patients_visible_to(nurse)) == [patient]
    assert list(A.patients_visible_to(nurse, clinic=other_clinic)) == []
    assert list(A.patients_visible_to(custodian)) == []  # no patient reads in the role


def test_access_patient_by_id(
    nurse: User, custodian: User, patient: Patient, clinic: Clinic, other_clinic: Clinic, far: DosingSession
) -> None:
    for pk, scope in ((far.patient_id, None), (999999, None), (patient.pk, other_clinic)):
        with pytest.raises(NotFoundError, match=r"^no such patient$"):
            A.access_patient_by_id(nurse, pk, clinic=scope)
    with pytest.raises(PermissionDeniedError, match=r"does not allow patient.view$"):
        A.access_patient_by_id(custodian, patient.pk)
    assert rows() == []
    assert A.access_patient_by_id(nurse, patient.pk, audit_action=None) == patient
    assert rows() == []
    with transaction.atomic():
        assert A.access_patient_by_id(nurse, patient.pk, clinic=clinic, for_update=True) == patient
    assert rows() == [("patient.view", "patients.patient", str(patient.pk), clinic.pk, patient.pk)]


def test_a_record_of_another_clinic_answers_as_a_missing_one(
    nurse: User, session: DosingSession, far: DosingSession, clinic: Clinic, other_clinic: Clinic
) -> None:
    messages = []
    for pk, scope in ((far.pk, None), (999999, None), ("abc", None), (None, None), (session.pk, other_clinic),
                      (session.pk, other_clinic.pk)):  # fmt: skip
        with pytest.raises(NotFoundError) as exc:
            A.access_session_by_id(nurse, pk, clinic=scope)
        messages.append(exc.value.message)
    assert messages == ["no such session"] * 6
    assert rows() == []


def test_a_role_without_the_permission_is_refused_and_nothing_is_written(
    front_desk: User, auditor: User, session: DosingSession
) -> None:
    before = {f.attname: getattr(session, f.attname) for f in DosingSession._meta.concrete_fields}
    with pytest.raises(
        PermissionDeniedError, match=r"^your role in this clinic does not allow clinical.view$"
    ):
        A.access_session_by_id(front_desk, session.pk)
    with pytest.raises(PermissionDeniedError, match=r"does not allow session.run$"):
        A.access_session_by_id(auditor, session.pk, perm=Perm.SESSION_RUN)
    session.refresh_from_db()
    assert {f.attname: getattr(session, f.attname) for f in DosingSession._meta.concrete_fields} == before
    assert rows() == []


def test_a_read_is_audited_with_its_clinic_and_patient(
    nurse: User, session: DosingSession, clinic: Clinic, patient: Patient
) -> None:
    assert A.access_session_by_id(nurse, session.pk, clinic=clinic) == session
    assert A.access_session_by_id(nurse, str(session.pk), clinic=clinic.pk, audit_action=None) == session
    with transaction.atomic():
        got = A.access_session_by_id(
            nurse, session.pk, audit_action=AuditAction.SESSION_EXPORT, for_update=True
        )
    assert got == session
    key = ("treatment.dosingsession", str(session.pk), clinic.pk, patient.pk)
    assert rows() == [("session.view", *key), ("session.export", *key)]
    assert AuditEvent.objects.filter(actor=nurse).count() == 2


def test_extra_filters_narrow_the_lookup(nurse: User, session: DosingSession, far: DosingSession) -> None:
    assert A.access_session_by_id(nurse, session.pk, patient=session.patient, audit_action=None) == session
    with pytest.raises(NotFoundError, match=r"^no such session$"):
        A.access_session_by_id(nurse, session.pk, patient=far.patient)


def test_a_record_without_a_patient_is_audited_against_its_clinic(
    nurse: User, admin_user: User, site: Site, clinic: Clinic
) -> None:
    device, _token = do_register_device(actor=nurse, site=site, label="Cuff", serial="S-1")
    start = AuditEvent.objects.count()  # the registration wrote its own row
    assert A.access_device_by_id(admin_user, device.pk) == device
    event = AuditEvent.objects.order_by("pk").last()
    assert event is not None and AuditEvent.objects.count() == start + 1
    assert (event.action, event.object_id, event.clinic_id, event.patient_id) == (
        "monitoring.device.view", str(device.pk), clinic.pk, None,
    )  # fmt: skip
    assert A.access_site_by_id(nurse, site.pk) == site  # sites are read unaudited: the page audits itself
    assert AuditEvent.objects.count() == start + 1


def test_every_kind_names_a_real_model_clinic_path_and_relations() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "access_lint", Path(__file__).resolve().parents[3] / ".ci" / "access_lint.py"
    )
    assert spec is not None and spec.loader is not None
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    for kind in A.KINDS.values():
        model = apps.get_model(kind.model)
        qs = model._default_manager.select_related(*kind.related).filter(**{f"{kind.clinic}__in": []})
        assert list(qs) == []
        assert model.__name__ in lint.SENSITIVE_MODELS, kind.model
    names = [n for n in A.__all__ if n.startswith("access_") and n.endswith("_by_id")]
    made = sorted(n for n in names if getattr(A, n).__name__ != n)
    assert made == [], made  # each function carries its own name
    assert len(A.KINDS) == 14 and len(names) == 14 + 3  # the kinds, plus clinic, patient and note


def test_psychotherapy_notes_reach_only_their_author_and_those_they_share_with(
    make_user: Callable[..., User], prescriber: User, patient: Patient, clinic: Clinic
) -> None:
    therapist = make_user("therapist", username="author")
    held = timezone.now() - dt.timedelta(hours=2)
    do_record_therapy_session(
        actor=therapist, patient_id=patient.pk, kind="psychotherapy", approach="cbt", modality="video",
        held_at=held, duration_min=50, note_text="private words",
    )  # fmt: skip
    note = PsychotherapyNote.objects.get()
    start = AuditEvent.objects.count()
    for pk, user in ((note.pk, prescriber), (999999, therapist)):
        with pytest.raises(NotFoundError, match=r"^no such note$"):
            A.access_psychotherapy_note_by_id(user, pk)
    assert AuditEvent.objects.count() == start
    assert A.access_psychotherapy_note_by_id(therapist, note.pk).text == "private words"
    do_share_psychotherapy_note(actor=therapist, note_id=note.pk, user_id=prescriber.pk)
    assert A.access_psychotherapy_note_by_id(prescriber, note.pk) == note
    views = AuditEvent.objects.filter(action="therapy.note_view", object_id=str(note.pk))
    # The author's read, the author's read inside the share action, the colleague's read.
    assert list(views.order_by("pk").values_list("actor_id", "patient_id")) == [
        (therapist.pk, patient.pk), (therapist.pk, patient.pk), (prescriber.pk, patient.pk)
    ]  # fmt: skip


def test_over_http_a_refusal_is_403_and_audited_and_a_foreign_record_is_404(
    nurse: User,
    front_desk: User,
    session: DosingSession,
    far: DosingSession,
    client_as: Callable[[User], Client],
) -> None:
    denied = client_as(front_desk).get(f"/treatment/sessions/{session.pk}/")
    assert denied.status_code == 403
    assert list(AuditEvent.objects.values_list("action", "actor_id")) == [("access.denied", front_desk.pk)]
    c = client_as(nurse)
    foreign, missing = (
        c.get(f"/api/v1/treatment/sessions/{far.pk}"),
        c.get("/api/v1/treatment/sessions/999999"),
    )
    assert (foreign.status_code, missing.status_code) == (404, 404)
    assert (
        foreign.json()
        == missing.json()
        == {"error": {"code": "not_found", "message": "no such session", "fields": {}}}
    )
    assert c.get(f"/api/v1/treatment/sessions/{session.pk}").json()["id"] == session.pk
    assert (
        AuditEvent.objects.filter(action="session.view", actor=nurse, object_id=str(session.pk)).count() == 1
    )
