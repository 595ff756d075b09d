"""Content-Security-Policy and the other security headers, and a scan proving the templates satisfy the policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ketaclinic.web.accounts.models import User

SRC = Path(__file__).resolve().parents[3] / "src" / "ketaclinic" / "web"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)

#: What the policy forbids in markup, each with the reason shown when a template has it.
_TAG = r"<[a-zA-Z][^<>]*?"
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("inline script", re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)),
    ("on* event handler attribute", re.compile(_TAG + r"\son[a-z]+\s*=", re.I)),
    ("style attribute", re.compile(_TAG + r"\sstyle\s*=", re.I)),
    ("style element", re.compile(r"<style\b", re.I)),
    ("javascript: URL", re.compile(r"javascript:", re.I)),
    (
        "htmx eval (js: values, hx-vars, hx-on)",
        re.compile(r"""hx-vals=['"]\s*js:|\bhx-vars=|\bhx-on\b|\bhx-on[:-]"""),
    ),
]


def csp_problems(text: str) -> list[str]:
    """Each rule the markup breaks, with the offending line's number."""
    found = []
    for reason, pattern in RULES:
        for m in pattern.finditer(text):
            found.append(f"line {text.count(chr(10), 0, m.start()) + 1}: {reason}")
    return found


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("<script>alert(1)</script>", "inline script"),
        ('<script type="module">x()</script>', "inline script"),
        ('<select name="c" onchange="this.form.submit()">', "on* event handler attribute"),
        ('<input\n  ONFOCUS="this.select()">', "on* event handler attribute"),
        ('<form method="post" style="display:inline">', "style attribute"),
        ("<style>body { margin: 0 }</style>", "style element"),
        ('<a href="javascript:history.back()">Back</a>', "javascript: URL"),
        ("<div hx-vals='js:{a: 1}'>", "htmx eval (js: values, hx-vars, hx-on)"),
        ('<button hx-on:click="go()">', "htmx eval (js: values, hx-vars, hx-on)"),
    ],
)
def test_the_scan_catches_each_forbidden_construct(markup: str, reason: str) -> None:
    assert [p.split(": ", 1)[1] for p in csp_problems(markup)] == [reason]


@pytest.mark.parametrize(
    "markup",
    [
        '<script src="/static/ketaclinic/app.js" defer></script>',
        '<script type="application/json" id="settings">{"a": 1}</script>',
        '<select name="c" data-autosubmit>',
        '<p>Based on = the protocol</p><form class="inline-form">',
        '<link rel="stylesheet" href="/static/x.css">',
        "<div hx-vals='{\"a\": 1}'>",
    ],
)
def test_the_scan_lets_csp_safe_markup_through(markup: str) -> None:
    assert csp_problems(markup) == []


def test_no_template_needs_inline_script_style_or_handlers() -> None:
    templates = sorted(SRC.rglob("*.html"))
    assert len(templates) > 50  # the scan reads the real template folders
    problems = [f"{t.relative_to(SRC)} {p}" for t in templates for p in csp_problems(t.read_text())]
    assert problems == []


def test_python_code_renders_no_inline_script_style_or_handlers() -> None:
    sources = sorted(SRC.rglob("*.py"))
    problems = [f"{s.relative_to(SRC)} {p}" for s in sources for p in csp_problems(s.read_text())]
    assert problems == []


def _assert_headers(response: Any) -> None:
    assert response["Content-Security-Policy"] == CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == (
        "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
        "magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
    )


def test_pages_api_and_errors_carry_the_security_headers(nurse: User, client_as: Any) -> None:
    anonymous = Client()
    login = anonymous.get("/accounts/login/")
    assert login.status_code == 200
    _assert_headers(login)
    _assert_headers(anonymous.get("/healthz"))
    unauthorised = anonymous.get("/api/v1/patients/")
    assert unauthorised.status_code == 401
    _assert_headers(unauthorised)
    signed_in = client_as(nurse)
    page = signed_in.get("/patients/")
    assert page.status_code == 200
    _assert_headers(page)
    missing = signed_in.get("/patients/999999/")
    assert missing.status_code == 404
    _assert_headers(missing)


def test_pages_load_behaviour_from_static_files(nurse: User, client_as: Any) -> None:
    body = client_as(nurse).get("/patients/").content.decode()
    assert '<script src="/static/ketaclinic/app.js" defer></script>' in body
    # htmx must not inject its indicator <style> element or evaluate attribute code.
    assert (
        """<meta name="htmx-config" content='{"includeIndicatorStyles": false, "allowEval": false}'>"""
        in body
    )


def test_api_docs_use_packaged_swagger_files_not_a_cdn(nurse: User, client_as: Any) -> None:
    r = client_as(nurse).get("/api/v1/docs")
    assert r.status_code == 200
    body = r.content.decode()
    assert '<script src="/static/ninja/swagger-ui-bundle.js"></script>' in body
    assert '<script src="/static/ninja/swagger-ui-init.js"></script>' in body
    assert "cdn." not in body
    assert csp_problems(body) == []
    _assert_headers(r)
