"""Patient registry: create, edit with history and audit, validation that stores nothing, clinic scoping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients import actions
from ketaclinic.web.patients.models import Patient, PatientVersion, WeightMeasurement

pytestmark = pytest.mark.django_db

VALID = {
    "mrn": "MRN-9",
    "given_name": "Sam",
    "family_name": "Okoye",
    "birth_date": "1990-02-03",
    "sex_at_birth": "male",
}


def counts() -> tuple[int, int, int, int]:
    return (
        Patient.objects.count(),
        PatientVersion.objects.count(),
        WeightMeasurement.objects.count(),
        AuditEvent.objects.count(),
    )


def test_create_patient_writes_version_and_audit(nurse: Any, clinic: Any) -> None:
    p = actions.do_create_patient(actor=nurse, clinic=clinic, values=VALID)
    assert (p.mrn, p.birth_date, p.version) == ("MRN-9", dt.date(1990, 2, 3), 1)
    v = PatientVersion.objects.get(patient=p)
    assert v.snapshot["family_name"] == "Okoye" and v.version == 1
    event = AuditEvent.objects.get(action="patient.create")
    assert (event.actor_id, event.patient_id, event.clinic_id) == (nurse.pk, p.pk, clinic.pk)


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"given_name": ""}, "given_name", "is required"),
        ({"birth_date": "03/02/1990"}, "birth_date", "must be a date in YYYY-MM-DD format"),
        ({"birth_date": ""}, "birth_date", "is required"),
        ({"birth_date": "2999-01-01"}, "birth_date", "cannot be in the future"),
        ({"birth_date": "1850-01-01"}, "birth_date", "cannot be before 1900-01-01"),
        ({"sex_at_birth": "x"}, "sex_at_birth", "must be one of female, male, intersex, unknown"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"favourite_colour": "blue"}, "favourite_colour", "is not a patient field"),
    ],
)
def test_create_rejects_bad_field_and_saves_nothing(
    nurse: Any, clinic: Any, override: dict[str, str], field: str, reason: str
) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        actions.do_create_patient(actor=nurse, clinic=clinic, values={**VALID, **override})
    assert err.value.fields[field] == [reason]
    assert counts() == before


def test_duplicate_mrn_in_same_clinic_refused_but_allowed_in_another(
    nurse: Any, clinic: Any, other_clinic: Any, make_user: Any
) -> None:
    actions.do_create_patient(actor=nurse, clinic=clinic, values=VALID)
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        actions.do_create_patient(actor=nurse, clinic=clinic, values={**VALID, "mrn": "mrn-9"})
    assert err.value.fields["mrn"] == ["MRN 'mrn-9' is already used by another patient in this clinic"]
    assert counts() == before
    other_nurse = make_user("nurse", clinic=other_clinic)
    actions.do_create_patient(actor=other_nurse, clinic=other_clinic, values=VALID)
    assert Patient.objects.filter(mrn="MRN-9").count() == 2


def test_update_keeps_history_and_audits_old_and_new(nurse: Any, patient: Patient) -> None:
    actions.do_update_patient(
        actor=nurse, patient_id=patient.pk, values={"phone": "+1-555-1", "family_name": "Rivera-Lopez"}
    )
    patient.refresh_from_db()
    assert (patient.version, patient.phone, patient.family_name) == (2, "+1-555-1", "Rivera-Lopez")
    v2 = PatientVersion.objects.get(patient=patient, version=2)
    assert v2.changed_fields == ["family_name", "phone"]
    event = AuditEvent.objects.get(action="patient.update")
    assert event.detail == {
        "changes": {"family_name": ["Rivera", "Rivera-Lopez"], "phone": ["", "+1-555-1"]},
        "version": 2,
    }


def test_update_without_change_writes_nothing(nurse: Any, patient: Patient) -> None:
    before = counts()
    actions.do_update_patient(actor=nurse, patient_id=patient.pk, values={"given_name": "Alex"})
    assert counts() == before


def test_invalid_update_changes_nothing(nurse: Any, patient: Patient) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        actions.do_update_patient(
            actor=nurse, patient_id=patient.pk, values={"phone": "+1", "birth_date": "2999-01-01"}
        )
    assert err.value.fields == {"birth_date": ["cannot be in the future"]}
    patient.refresh_from_db()
    assert (patient.phone, patient.version, patient.birth_date) == ("", 1, dt.date(1985, 4, 2))
    assert counts() == before


def test_other_clinic_patient_is_not_found_and_unchanged(
    patient: Patient, other_clinic: Any, make_user: Any
) -> None:
    outsider = make_user("nurse", clinic=other_clinic)
    before = counts()
    with pytest.raises(NotFoundError):
        actions.do_update_patient(actor=outsider, patient_id=patient.pk, values={"phone": "1"})
    assert counts() == before


def test_auditor_can_read_but_not_edit(auditor: Any, patient: Patient, client_as: Any) -> None:
    c = client_as(auditor)
    assert c.get(f"/patients/{patient.pk}/").status_code == 200
    before = counts()
    with pytest.raises(PermissionDeniedError):
        actions.do_update_patient(actor=auditor, patient_id=patient.pk, values={"phone": "1"})
    assert c.post(f"/patients/{patient.pk}/edit/", {"phone": "1"}).status_code == 403
    assert counts()[:3] == before[:3]


def test_chart_read_is_audited(nurse: Any, patient: Patient, client_as: Any) -> None:
    assert client_as(nurse).get(f"/patients/{patient.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="patient.view")
    assert (event.actor_id, event.patient_id, event.request_path) == (
        nurse.pk,
        patient.pk,
        f"/patients/{patient.pk}/",
    )
    assert event.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "must be a number of kilograms"),
        ("1.9", "must be between 2.0 and 400.0 kg"),
        ("401", "must be between 2.0 and 400.0 kg"),
    ],
)
def test_weight_validation(nurse: Any, patient: Patient, raw: str, reason: str) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        actions.do_record_weight(actor=nurse, patient_id=patient.pk, weight_kg=raw)
    assert err.value.fields == {"weight_kg": [reason]}
    assert counts() == before


def test_weight_history_latest(nurse: Any, patient: Patient) -> None:
    actions.do_record_weight(actor=nurse, patient_id=patient.pk, weight_kg="71.24")
    assert patient.latest_weight().weight_kg == Decimal("71.2")
    assert patient.weights.count() == 2


def test_search_by_name_mrn_and_birth_date(nurse: Any, patient: Patient, clinic: Any, client_as: Any) -> None:
    from ketaclinic.web.patients.selectors import patient_search

    assert list(patient_search(user=nurse, clinic=clinic, query="rive")) == [patient]
    assert list(patient_search(user=nurse, clinic=clinic, query="MRN-1")) == [patient]
    assert list(patient_search(user=nurse, clinic=clinic, query="1985-04-02")) == [patient]
    assert list(patient_search(user=nurse, clinic=clinic, query="nobody")) == []
    r = client_as(nurse).get("/patients/?q=Rivera")
    assert r.status_code == 200 and b"MRN-1" in r.content
    assert AuditEvent.objects.filter(action="patient.search", detail__results=1).count() == 1


def test_patient_list_query_count_is_constant(
    nurse: Any, clinic: Any, site: Any, client_as: Any, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        Patient.objects.create(
            clinic=clinic,
            home_site=site,
            mrn=f"M{i}",
            given_name="G",
            family_name=f"F{i:02d}",
            birth_date=dt.date(1980, 1, 1),
            sex_at_birth="female",
        )
    c = client_as(nurse)
    c.get("/patients/")  # warm the session
    # user, memberships (all clinics and roles at once), clinics, count, page rows (sites joined): 5, whatever
    # the number of rows, plus the nav's open-alert count (one query). The session is read from the cache and
    # its idle refresh is written once a minute.
    with django_assert_num_queries(6):
        r = c.get("/patients/")
    assert r.content.count(b'href="/patients/') >= 25


def test_fhir_patient_export_is_valid_r4(nurse: Any, patient: Patient, client_as: Any) -> None:
    from ketaclinic.core.fhir.validate import validate_resource

    r = client_as(nurse).get(f"/patients/{patient.pk}/fhir/")
    body = r.json()
    assert r["Content-Type"] == "application/fhir+json"
    assert validate_resource(body) == []
    assert body["identifier"][0]["value"] == "MRN-1"
    assert body["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert (body["gender"], body["birthDate"], body["name"][0]["family"]) == (
        "female",
        "1985-04-02",
        "Rivera",
    )
    assert AuditEvent.objects.filter(action="patient.export_fhir", patient=patient).count() == 1
