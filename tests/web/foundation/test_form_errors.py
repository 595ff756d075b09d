"""Form errors: one summary linking to each field, the message at the field, values kept, all errors at once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.web.foundation.test_patients import VALID, counts

from ketaclinic.web.patients.models import Patient, WeightMeasurement

pytestmark = pytest.mark.django_db


def test_registration_reports_every_error_at_once_and_keeps_what_was_typed(
    nurse: Any, client_as: Any
) -> None:
    before = counts()
    form = {
        **VALID,
        "given_name": "",
        "birth_date": "next tuesday",
        "initial_weight_kg": "450",
        "city": "Fresno",
    }
    resp = client_as(nurse).post("/patients/new/", form)
    html = resp.content.decode()
    assert resp.status_code == 400
    assert counts() == before
    # one summary, focusable, announced, linking to each field in the form's own words
    assert html.count('class="error-summary"') == 1
    assert 'role="alert"' in html and "data-error-summary" in html
    assert "There are 3 problems" in html
    assert '<a href="#id_given_name">Given name: is required</a>' in html
    assert '<a href="#id_initial_weight_kg">Weight today (kg): must be between 2.0 and 400.0 kg</a>' in html
    assert re.search(r'<a href="#id_birth_date">Birth date: [^<]+</a>', html)
    # each message once more, at its field, tied to the input
    assert html.count("must be between 2.0 and 400.0 kg") == 2
    assert 'id="err_initial_weight_kg"' in html
    assert 'aria-describedby="hint_initial_weight_kg err_initial_weight_kg"' in html
    # what was typed is kept
    assert 'value="450"' in html and 'value="Fresno"' in html and 'value="next tuesday"' in html
    assert 'value="MRN-9"' in html
    assert '<option value="male" selected>' in html
    # no flash message repeats the errors
    assert 'class="messages"' not in html


def test_registration_with_only_a_bad_weight_stores_nothing(nurse: Any, client_as: Any) -> None:
    before = counts()
    resp = client_as(nurse).post("/patients/new/", {**VALID, "initial_weight_kg": "1.5"})
    assert resp.status_code == 400
    assert "There is a problem" in resp.content.decode()
    assert counts() == before


def test_registration_with_a_weight_records_it_in_the_same_step(nurse: Any, client_as: Any) -> None:
    resp = client_as(nurse).post("/patients/new/", {**VALID, "initial_weight_kg": "71.26"})
    assert resp.status_code == 302
    patient = Patient.objects.get(mrn="MRN-9")
    weights = list(WeightMeasurement.objects.filter(patient=patient).values_list("weight_kg", "source"))
    assert [(str(w), s) for w, s in weights] == [("71.3", "registration")]


def test_account_page_summarises_a_wrong_current_password_once(nurse: Any, client_as: Any) -> None:
    resp = client_as(nurse).post(
        "/accounts/me/",
        {"form": "password", "current_password": "nope", "password": "a-long-new-pass-1", "password2": "x"},
    )
    html = resp.content.decode()
    assert resp.status_code == 400
    assert html.count('class="error-summary"') == 1
    assert '<a href="#id_current_password">Current password: is not correct</a>' in html
    assert html.count("is not correct") == 2  # the summary and the field
    assert 'class="messages"' not in html
