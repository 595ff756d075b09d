"""Every API endpoint declares the error responses it returns, all in the one error shape, so the OpenAPI
schema lists them beside the success response."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

ERROR_REF = "#/components/schemas/ErrorOut"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from ketaclinic.web.config.api import api

    return api.get_openapi_schema()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), path, op) for path, ops in schema["paths"].items() for m, op in ops.items()]


def _errors(op: dict[str, Any]) -> list[int]:
    return sorted(int(c) for c in op["responses"] if int(c) >= 400)


def test_every_operation_declares_its_errors_in_the_one_error_shape(schema: dict[str, Any]) -> None:
    ops = _operations(schema)
    assert len(ops) >= 58
    for method, path, op in ops:
        errors = _errors(op)
        assert 400 in errors, f"{method} {path} does not declare 400"
        signed_in = any("TokenAuth" in s or "SessionAuth" in s for s in op.get("security", []))
        if signed_in:
            assert {401, 403, 404} <= set(errors), f"{method} {path}: {errors}"
        if signed_in and method != "GET":
            assert 409 in errors, f"{method} {path} is a write without 409"
        for code in errors:
            resp = op["responses"].get(code) or op["responses"][str(code)]
            body = resp["content"]["application/json"]["schema"]
            assert body == {"$ref": ERROR_REF}, f"{method} {path} {code}"


def test_exact_statuses_of_representative_endpoints(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    assert _errors(paths["/api/v1/treatment/sessions/{session_id}"]["get"]) == [400, 401, 403, 404]
    assert _errors(paths["/api/v1/ledger/clinics/{clinic_id}/transfers"]["post"]) == [400, 401, 403, 404, 409]
    assert _errors(paths["/api/v1/staff/me/password"]["post"]) == [400, 401, 403, 404, 409, 429]
    assert _errors(paths["/api/v1/monitoring/ingest"]["post"]) == [400, 401]
    assert _errors(paths["/api/v1/assessments/questionnaires/{instrument_id}"]["get"]) == [400, 404]
    assert "security" not in paths["/api/v1/assessments/questionnaires/{instrument_id}"]["get"]
    body = schema["components"]["schemas"]["ErrorOut"]
    assert body["required"] == ["error"]
    inner = schema["components"]["schemas"]["ErrorBody"]
    assert sorted(inner["properties"]) == ["code", "fields", "message"]


@pytest.mark.django_db
def test_a_declared_error_is_the_body_actually_sent() -> None:
    r = Client().get("/api/v1/treatment/sessions/1")
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "sign in or send a valid bearer token",
            "fields": {},
        }
    }
