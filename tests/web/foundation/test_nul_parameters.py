"""A NUL character in a query parameter or form field is a 400 naming the parameter (PostgreSQL cannot hold
one: without the guard the search raised a server error there), and nothing is read or written."""

from __future__ import annotations

from typing import Any

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.patients.models import Patient


def test_page_search_with_nul_is_a_400_naming_the_parameter(
    nurse: User, patient: Patient, client_as: Any
) -> None:
    audits = AuditEvent.objects.count()
    r = client_as(nurse).get("/patients/", {"q": "Do\x00e"})
    assert r.status_code == 400
    assert "contains a NUL character" in r.content.decode()
    assert "<strong>" in r.content.decode()  # the error page lists the field
    assert AuditEvent.objects.count() == audits


def test_api_search_with_nul_is_a_400_in_the_api_error_shape(
    nurse: User, patient: Patient, client_as: Any
) -> None:
    audits = AuditEvent.objects.count()
    r = client_as(nurse).get("/api/v1/patients/", {"q": "x\x00", "limit": "5"})
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "validation_failed",
            "message": "q: contains a NUL character",
            "fields": {"q": ["contains a NUL character"]},
        }
    }
    assert AuditEvent.objects.count() == audits


def test_a_form_field_with_nul_changes_nothing(nurse: User, patient: Patient, client_as: Any) -> None:
    before = (Patient.objects.count(), AuditEvent.objects.count())
    stored = (patient.given_name, patient.phone)
    r = client_as(nurse).post(f"/patients/{patient.pk}/edit/", {"phone": "+1\x00555", "given_name": "Ann"})
    assert r.status_code == 400
    assert "contains a NUL character" in r.content.decode()
    patient.refresh_from_db()
    assert (patient.given_name, patient.phone) == stored
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


def test_ordinary_searches_still_work(nurse: User, patient: Patient, client_as: Any) -> None:
    assert client_as(nurse).get("/patients/", {"q": patient.family_name}).status_code == 200
    assert client_as(nurse).get("/api/v1/patients/", {"q": patient.family_name}).status_code == 200
