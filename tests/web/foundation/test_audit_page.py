"""The audit trail page: actions and details in words, filters by person, action, patient and dates, pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from tests.web.words import raw_codes, visible_text

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.audit.present import action_label, detail_rows
from ketaclinic.web.lib.audit import record_audit

pytestmark = pytest.mark.django_db


def test_action_and_detail_in_words() -> None:
    assert action_label("patient.weight_record") == "Patient: weight record"
    assert action_label("fhir.bulk_export.kickoff") == "FHIR: bulk export kickoff"
    assert action_label("demo") == "Demo"
    rows = detail_rows(
        {"changed_fields": ["given_name", "phone"], "dry_run": True, "to": "checked_in", "n": 3}
    )
    assert [(r.label, r.value, r.code) for r in rows] == [
        ("Changed fields", "given name, phone", "changed_fields"),
        ("Dry run", "yes", "dry_run"),
        ("To", "checked in", "to"),
        ("N", "3", "n"),
    ]
    assert detail_rows({}) == []


def test_audit_page_reads_in_words_and_filters(
    auditor: Any, nurse: Any, patient: Any, client_as: Any, clinic: Any
) -> None:
    with transaction.atomic():
        record_audit(
            actor=nurse,
            action="patient.update",
            clinic=clinic,
            patient=patient,
            detail={"changed_fields": ["given_name"], "weight_kg": "71.0"},
        )
        record_audit(actor=auditor, action="auth.login", clinic=clinic)
    c = client_as(auditor)
    resp = c.get("/audit/", {"actor": nurse.username, "action": "patient.update", "mrn": patient.mrn.lower()})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert [e.action for e in resp.context["page"].object_list] == ["patient.update"]
    assert '<span title="patient.update">Patient: update</span>' in html
    assert '<dt title="changed_fields">Changed fields</dt><dd>given name</dd>' in html
    assert '<dt title="weight_kg">Weight (kg)</dt><dd>71.0</dd>' in html
    assert f'{patient.full_name} <span class="muted">MRN {patient.mrn}</span>' in html
    assert '<option value="patient.update" selected>Patient: update</option>' in html
    assert raw_codes(visible_text(html[html.index("<main") :])) == []
    # a person's events only
    resp = c.get("/audit/", {"actor": auditor.username, "action": "auth."})
    assert [e.action for e in resp.context["page"].object_list] == ["auth.login"]
    # dates: the range must run forwards; nothing is recorded for a refused filter
    before = AuditEvent.objects.count()
    assert c.get("/audit/", {"since": "2026-12-03", "until": "2026-12-01"}).status_code == 400
    assert c.get("/audit/", {"page": "zero"}).status_code == 400
    assert AuditEvent.objects.count() == before
    resp = c.get("/audit/", {"since": "2001-01-01", "until": "2001-12-31"})
    assert resp.context["page"].paginator.count == 0
    assert "No events match these filters." in resp.content.decode()
    count = c.get("/audit/", {"since": "2001-01-01", "until": "2099-12-31"}).context["page"].paginator.count
    assert count == AuditEvent.objects.filter(clinic=clinic).count()


def test_audit_page_is_paginated_keeping_filters(
    auditor: Any, nurse: Any, client_as: Any, clinic: Any
) -> None:
    with transaction.atomic():
        for _ in range(120):
            record_audit(actor=nurse, action="patient.search", clinic=clinic, detail={"query": "x"})
    c = client_as(auditor)
    resp = c.get("/audit/", {"action": "patient.search", "page": "3"})
    html = resp.content.decode()
    assert resp.context["page"].number == 3
    assert len(resp.context["page"].object_list) == 20
    assert "101–120 of 120 events · page 3 of 3" in html
    assert 'href="?action=patient.search&amp;page=2" rel="prev"' in html
