"""Every API body is limited before parsing (size: 413, depth: 400) in the JSON error shape; HEAD works where GET
does; the FHIR intake import checks access before it reads the body."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client, override_settings


def test_oversized_body_gets_413_in_the_json_error_shape(nurse: Any, client_as: Any) -> None:
    with override_settings(KETACLINIC_MAX_BODY_BYTES=1000):
        r = client_as(nurse).post(
            "/api/v1/patients/", data=json.dumps({"x": "y" * 2000}), content_type="application/json"
        )
    assert r.status_code == 413
    assert r.json() == {
        "error": {
            "code": "body_too_large",
            "message": "body: larger than 1000 bytes",
            "fields": {"body": ["larger than 1000 bytes"]},
        }
    }


def test_deep_json_gets_400_before_parsing(nurse: Any, client_as: Any) -> None:
    r = client_as(nurse).post("/api/v1/patients/", data="[" * 100_000, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"body": ["is nested more than 32 levels deep"]}


def test_head_works_where_get_does(nurse: Any, patient: Any, client_as: Any) -> None:
    c = client_as(nurse)
    for url in ("/api/v1/patients/", f"/api/v1/patients/{patient.pk}", "/patients/", "/healthz"):
        get, head = c.get(url), c.head(url)
        assert (url, head.status_code) == (url, get.status_code == 200 and 200)
        assert head.content == b"" and int(head["Content-Length"]) == len(get.content)


def test_fhir_import_checks_access_before_reading_the_body(
    front_desk: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    url = f"/api/v1/screening/patients/{patient.pk}/import"
    deep = "[" * 100_000
    # No permission: 403 whatever the body; missing patient: 404.
    r = client_as(front_desk).post(url, data=deep, content_type="application/fhir+json")
    assert r.status_code == 403
    r = client_as(nurse).post(
        "/api/v1/screening/patients/999999/import", data=deep, content_type="application/json"
    )
    assert r.status_code == 404
    r = client_as(nurse).post(url, data=deep, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"bundle": ["is nested more than 64 levels deep"]}
    assert Client().post(url, data="{}", content_type="application/json").status_code == 401
