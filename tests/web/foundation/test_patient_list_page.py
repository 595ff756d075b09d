"""The patient list pages through the clinic's patients, keeps the search in its links and refuses a bad page."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web.patients import actions

pytestmark = pytest.mark.django_db


def test_patient_list_is_paginated_keeping_the_search(nurse: Any, clinic: Any, client_as: Any) -> None:
    for i in range(30):
        actions.do_create_patient(
            actor=nurse,
            clinic=clinic,
            values={
                "mrn": f"P-{i:03d}",
                "given_name": "Alex",
                "family_name": f"Rivera{i:02d}",
                "birth_date": "1980-04-02",
                "sex_at_birth": "female",
            },
        )
    c = client_as(nurse)
    resp = c.get("/patients/", {"q": "Rivera", "page": "2"})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert len(resp.context["page"].object_list) == 5
    assert "26–30 of 30 patients · page 2 of 2" in html
    assert 'href="?q=Rivera&amp;page=1" rel="prev"' in html
    assert "2 Apr 1980" in html
    assert c.get("/patients/", {"page": "two"}).status_code == 400
