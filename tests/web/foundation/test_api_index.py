"""/api/ points to the API documentation."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_api_root_redirects_to_the_api_docs(db: Any) -> None:
    client = Client()
    res = client.get("/api/")
    assert (res.status_code, res["Location"]) == (302, "/api/v1/docs")
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/api/v1/openapi.json" in docs.content
