"""The shared UI pieces: the error summary, the form field, pagination (docs/ui.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.paginator import Paginator
from django.template import Context, Template
from django.test import RequestFactory

from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.lib.pagination import page_number, paginate
from ketaclinic.web.lib.templatetags.kc import field_label, page_window


def _render(src: str, **ctx: object) -> str:
    return Template("{% load kc %}" + src).render(Context(ctx))


def test_error_summary_links_every_reason_to_its_field() -> None:
    errors = {"initial_weight_kg": ["must be between 20 and 300"], "mrn": ["is required", "is too long"]}
    html = _render("{% error_summary errors labels %}", errors=errors, labels={"mrn": "MRN"})
    assert 'role="alert"' in html and "data-error-summary" in html and 'tabindex="-1"' in html
    assert "There are 3 problems" in html
    assert '<a href="#id_initial_weight_kg">Initial weight (kg): must be between 20 and 300</a>' in html
    assert '<a href="#id_mrn">MRN: is required</a>' in html
    assert '<a href="#id_mrn">MRN: is too long</a>' in html


def test_error_summary_is_absent_without_errors_and_form_level_reasons_are_not_links() -> None:
    assert _render("{% error_summary errors %}", errors={}).strip() == ""
    html = _render("{% error_summary errors %}", errors={"__all__": ["the session has ended"]})
    assert "There is a problem" in html
    assert "<li>the session has ended</li>" in html


def test_field_keeps_the_value_and_ties_hint_and_error_to_the_input() -> None:
    html = _render(
        '{% include "_field.html" with name="weight_kg" label="Weight (kg)" value="350" hint="Today" errors=errors %}',
        errors={"weight_kg": ["must be between 20 and 300"]},
    )
    assert 'class="field field--error"' in html
    assert 'value="350"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="hint_weight_kg err_weight_kg"' in html
    assert '<p class="field__error" id="err_weight_kg">' in html and "must be between 20 and 300" in html
    assert '<label class="field__label" for="id_weight_kg">Weight (kg)</label>' in html


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("initial_weight_kg", "Initial weight (kg)"),
        ("site_id", "Site"),
        ("given_name", "Given name"),
        ("x", "X"),
    ],
)
def test_field_label_turns_codes_into_words(code: str, label: str) -> None:
    assert field_label(code) == label


def test_page_window_marks_gaps() -> None:
    paginator = Paginator(list(range(500)), 10)
    assert page_window(paginator, 1) == [1, 2, 3, None, 50]
    assert page_window(paginator, 25) == [1, None, 23, 24, 25, 26, 27, None, 50]
    assert page_window(Paginator([1], 10), 1) == [1]


def test_page_number_is_validated() -> None:
    rf = RequestFactory()
    assert page_number(rf.get("/")) == 1
    assert page_number(rf.get("/?page=3")) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValidationFailed) as exc:
            page_number(rf.get("/", {"page": bad}))
        assert exc.value.fields == {"page": ["must be a whole number of 1 or more"]}
    assert paginate(rf.get("/?page=99"), list(range(120)), per_page=50).number == 3


def test_pagination_links_keep_the_filters() -> None:
    request = RequestFactory().get("/audit/", {"actor": "7", "page": "2"})
    page = Paginator(list(range(120)), 50).get_page(2)
    html = _render(
        '{% include "_pagination.html" with page=page noun="events" %}', page=page, request=request
    )
    assert "51–100 of 120 events · page 2 of 3" in html
    assert 'href="?actor=7&amp;page=1" rel="prev"' in html
    assert 'href="?actor=7&amp;page=3" rel="next"' in html
    assert '<span aria-current="page">2</span>' in html


def test_favicon_address_leads_to_the_svg_icon(client: Any) -> None:
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301
    assert resp["Location"].endswith("ketaclinic/favicon.svg")
