"""/api/v1/patients: token and session auth, one error shape, scoping, OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from ketaclinic.web.accounts.actions import do_create_api_token
from ketaclinic.web.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(nurse: Any) -> Client:
    _, raw = do_create_api_token(actor=nurse, name="test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_unauthenticated_gets_401_error_shape() -> None:
    r = Client().get("/api/v1/patients/")
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "sign in or send a valid bearer token",
            "fields": {},
        }
    }


def test_revoked_token_is_refused(nurse: Any) -> None:
    from ketaclinic.web.accounts.actions import do_revoke_api_token

    token, raw = do_create_api_token(actor=nurse, name="t")
    do_revoke_api_token(actor=nurse, token_id=token.pk)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/patients/").status_code == 401


def test_create_list_get_patch(token_client: Client, clinic: Any) -> None:
    body = {
        "mrn": "A1",
        "given_name": "Lee",
        "family_name": "Park",
        "birth_date": "1970-07-07",
        "sex_at_birth": "female",
    }
    r = token_client.post("/api/v1/patients/", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    assert r.json()["clinic_id"] == clinic.pk
    assert [p["mrn"] for p in token_client.get("/api/v1/patients/?q=park").json()] == ["A1"]
    r = token_client.patch(
        f"/api/v1/patients/{pid}", json.dumps({"phone": "+44 1"}), content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["phone"] == "+44 1"
    assert [v["version"] for v in token_client.get(f"/api/v1/patients/{pid}/history").json()] == [1, 2]


def test_field_errors_are_400_with_every_field(token_client: Client) -> None:
    body = {
        "mrn": "",
        "given_name": "Lee",
        "family_name": "Park",
        "birth_date": "07/07/1970",
        "sex_at_birth": "f",
    }
    r = token_client.post("/api/v1/patients/", json.dumps(body), content_type="application/json")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    assert err["fields"] == {
        "birth_date": ["must be a date in YYYY-MM-DD format"],
        "sex_at_birth": ["must be one of female, male, intersex, unknown"],
        "mrn": ["is required"],
    }
    assert Patient.objects.count() == 0


def test_schema_errors_use_the_same_shape(token_client: Client) -> None:
    r = token_client.post("/api/v1/patients/", json.dumps({"mrn": "x"}), content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "validation_failed"
    assert set(r.json()["error"]["fields"]) == {"given_name", "family_name", "birth_date", "sex_at_birth"}


def test_other_clinic_patient_is_404(token_client: Client, other_clinic: Any) -> None:
    import datetime as dt

    p = Patient.objects.create(
        clinic=other_clinic,
        mrn="Z",
        given_name="Z",
        family_name="Z",
        birth_date=dt.date(1990, 1, 1),
        sex_at_birth="male",
    )
    r = token_client.get(f"/api/v1/patients/{p.pk}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = token_client.patch(
        f"/api/v1/patients/{p.pk}", json.dumps({"phone": "1"}), content_type="application/json"
    )
    assert r.status_code == 404
    p.refresh_from_db()
    assert p.phone == ""


def test_front_desk_cannot_be_given_auditor_powers(auditor: Any, patient: Any) -> None:
    _, raw = do_create_api_token(actor=auditor, name="a")
    c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert c.get(f"/api/v1/patients/{patient.pk}").status_code == 200
    r = c.patch(f"/api/v1/patients/{patient.pk}", json.dumps({"phone": "1"}), content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"


def test_session_auth_needs_csrf_for_writes(nurse: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(nurse)
    assert c.get("/api/v1/patients/").status_code == 200
    body = {
        "mrn": "A1",
        "given_name": "Lee",
        "family_name": "Park",
        "birth_date": "1970-07-07",
        "sex_at_birth": "female",
    }
    r = c.post("/api/v1/patients/", json.dumps(body), content_type="application/json")
    assert r.status_code == 403
    assert Patient.objects.count() == 0


def test_fhir_endpoint_and_openapi(token_client: Client, patient: Any) -> None:
    r = token_client.get(f"/api/v1/patients/{patient.pk}/fhir")
    assert r.status_code == 200 and r["Content-Type"] == "application/fhir+json"
    assert r.json()["resourceType"] == "Patient"
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/patients/" in schema["paths"]
    assert schema["info"]["title"] == "ketaclinic API"


def test_weights_via_api(token_client: Client, patient: Any) -> None:
    r = token_client.post(
        f"/api/v1/patients/{patient.pk}/weights",
        json.dumps({"weight_kg": "500"}),
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["error"]["fields"] == {
        "weight_kg": ["must be between 2.0 and 400.0 kg"]
    }
    assert patient.weights.count() == 1
    r = token_client.post(
        f"/api/v1/patients/{patient.pk}/weights",
        json.dumps({"weight_kg": "72.5"}),
        content_type="application/json",
    )
    assert r.status_code == 201 and patient.weights.count() == 2
