"""Views (chart tab, entry form, remote page) and the API: exact responses, one error shape, nothing changed on refusal."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.test import Client
from django.utils import timezone

from ketaclinic.web.assessments import actions
from ketaclinic.web.assessments.models import Assessment, SuicideAlert
from ketaclinic.web.audit.models import AuditEvent


def test_chart_tab_shows_trend_table_and_audits(client_as: Any, nurse: Any, patient: Any) -> None:
    actions.do_record_assessment(
        actor=nurse,
        patient_id=patient.pk,
        instrument_id="phq9",
        answers=[1] * 9,
        context="baseline",
        assessed_at=timezone.now() - dt.timedelta(days=2),
    )
    before = AuditEvent.objects.filter(action="patient.view").count()
    r = client_as(nurse).get(f"/assessments/patient/{patient.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-instrument="phq9"' in html
    assert 'class="point" data-total="9"' in html
    assert 'data-band="moderately_severe"' in html
    assert "Suicide-risk alert" in html  # banner from the positive item 9
    assert AuditEvent.objects.filter(action="patient.view").count() == before + 1


def test_entry_form_renders_items_and_saves(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    r = c.get(f"/assessments/patient/{patient.pk}/new/?instrument=gad7")
    assert r.status_code == 200
    assert "Not being able to stop or control worrying" in r.content.decode()
    data = {f"item_{i}": "1" for i in range(1, 8)} | {
        "instrument": "gad7",
        "context": "pre_dose",
        "assessed_at": "2026-01-05T09:30",
    }
    r = c.post(f"/assessments/patient/{patient.pk}/new/", data)
    assert r.status_code == 302
    a = Assessment.objects.get()
    assert (a.total, a.severity, a.context) == (7, "mild", "pre_dose")


def test_entry_form_bad_item_shows_error_and_saves_nothing(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    data = {f"item_{i}": "1" for i in range(1, 8)} | {
        "item_4": "7",
        "instrument": "gad7",
        "context": "pre_dose",
        "assessed_at": "2026-01-05T09:30",
    }
    before = AuditEvent.objects.count()
    r = c.post(f"/assessments/patient/{patient.pk}/new/", data)
    assert r.status_code == 400
    assert "7 is out of range; allowed 0-3" in r.content.decode()
    assert Assessment.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_madrs_form_has_no_wording(client_as: Any, nurse: Any, patient: Any) -> None:
    r = client_as(nurse).get(f"/assessments/patient/{patient.pk}/new/?instrument=madrs")
    html = r.content.decode()
    assert "Suicidal thoughts" in html
    assert "Item wording is not reproduced" in html


def test_remote_page_no_login(nurse: Any, patient: Any) -> None:
    _, url = actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="phq9")
    anon = Client()
    r = anon.get(url)
    assert r.status_code == 200
    assert "Little interest or pleasure in doing things" in r.content.decode()
    r = anon.post(url, {f"item_{i}": "0" for i in range(1, 9)})
    assert r.status_code == 400
    assert Assessment.objects.count() == 0
    r = anon.post(url, {f"item_{i}": "0" for i in range(1, 10)})
    assert r.status_code == 200
    assert "Thank you" in r.content.decode()
    a = Assessment.objects.get()
    assert (a.source, a.total) == ("remote", 0)
    r = anon.get(url)
    assert r.status_code == 410
    assert "already been answered" in r.content.decode()
    assert Client().get("/assessments/r/not-a-token/").status_code == 410


def test_ack_view_only_for_prescriber(client_as: Any, nurse: Any, prescriber: Any, patient: Any) -> None:
    actions.do_record_assessment(
        actor=nurse,
        patient_id=patient.pk,
        instrument_id="phq9",
        answers=[0] * 8 + [1],
        context="follow_up",
        assessed_at=timezone.now(),
    )
    alert = SuicideAlert.objects.get()
    url = f"/assessments/patient/{patient.pk}/alerts/{alert.pk}/ack/"
    client_as(nurse).post(url, {"action": "contact", "note": "called"})
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    client_as(prescriber).post(url, {"action": "referral", "note": "Referred to crisis team"})
    alert.refresh_from_db()
    assert (alert.action, alert.note, alert.acknowledged_by_id) == (
        "referral",
        "Referred to crisis team",
        prescriber.pk,
    )


# ------------------------------------------------------------------ API


def test_api_create_and_list(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    r = c.post(
        f"/api/v1/assessments/patients/{patient.pk}/assessments",
        data=json.dumps(
            {
                "instrument": "pcl5",
                "answers": [2] * 16 + [1, 0, 0, 0],
                "context": "baseline",
                "assessed_at": "2026-01-05T09:30:00+00:00",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["instrument"], body["total"], body["severity"], body["complete"], body["source"]) == (
        "pcl5",
        33,
        "probable_ptsd",
        True,
        "api",
    )
    r = c.get(f"/api/v1/assessments/patients/{patient.pk}/assessments")
    assert r.status_code == 200
    listing = r.json()
    assert [a["total"] for a in listing["assessments"]] == [33]
    assert listing["unacknowledged_suicide_alert"] is False
    assert AuditEvent.objects.filter(action="assessment.list", patient=patient).count() == 1
    fhir = c.get(f"/api/v1/assessments/assessments/{body['id']}/fhir").json()
    assert [e["resource"]["resourceType"] for e in fhir["entry"]] == ["QuestionnaireResponse", "Observation"]


def test_api_error_shape_and_nothing_written(
    client_as: Any, nurse: Any, front_desk: Any, patient: Any
) -> None:
    c = client_as(nurse)
    before = (Assessment.objects.count(), AuditEvent.objects.exclude(action="access.denied").count())
    r = c.post(
        f"/api/v1/assessments/patients/{patient.pk}/assessments",
        data=json.dumps(
            {
                "instrument": "phq9",
                "answers": [0] * 8 + [5],
                "context": "baseline",
                "assessed_at": "2026-01-05T09:30:00+00:00",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "validation_failed",
            "message": "item_9: 5 is out of range; allowed 0-3",
            "fields": {"item_9": ["5 is out of range; allowed 0-3"]},
        }
    }
    r = client_as(front_desk).post(
        f"/api/v1/assessments/patients/{patient.pk}/assessments",
        data=json.dumps(
            {
                "instrument": "phq9",
                "answers": [0] * 9,
                "context": "baseline",
                "assessed_at": "2026-01-05T09:30:00+00:00",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    r = c.get("/api/v1/assessments/patients/999999/assessments")
    assert r.status_code == 404
    # Nothing written; only the refused attempt itself is audited.
    assert (Assessment.objects.count(), AuditEvent.objects.exclude(action="access.denied").count()) == before


def test_api_questionnaire_definition(client_as: Any, nurse: Any) -> None:
    r = client_as(nurse).get("/api/v1/assessments/questionnaires/phq9")
    assert r.status_code == 200
    assert r.json()["code"][0]["code"] == "44249-1"


def test_live_refresh_request_leaves_flash_messages_and_new_link_for_the_next_page(
    client_as: Any, nurse: Any, patient: Any
) -> None:
    """The in-place refresh (htmx, HX-Request: true) swaps only the tab and banners: it must not swallow a
    pending flash message or the one-time display of a new link's URL."""
    c = client_as(nurse)
    r = c.post(f"/assessments/patient/{patient.pk}/links/", {"instrument": "phq9", "valid_hours": "24"})
    assert r.status_code == 302
    r = c.get(f"/assessments/patient/{patient.pk}/", headers={"HX-Request": "true"})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="assessments-tab"' in html and 'id="chart-banners"' in html
    assert "Personal link created." not in html and 'id="new-link"' not in html
    r = c.get(f"/assessments/patient/{patient.pk}/")
    html = r.content.decode()
    assert "Personal link created. Send it to the patient." in html
    assert 'id="new-link"' in html


def test_chart_shows_personal_url_of_open_scheduled_links_to_staff_who_send_them(
    client_as: Any, nurse: Any, auditor: Any, patient: Any
) -> None:
    sched = actions.do_create_schedule(
        actor=nurse, patient_id=patient.pk, instrument_id="gad7", kind="interval", interval_days=7
    )
    [link] = actions.materialise_due_links()
    html = client_as(nurse).get(f"/assessments/patient/{patient.pk}/").content.decode()
    shown = re.findall(
        r'class="link-url" readonly [^>]*value="http://testserver/assessments/r/([^/"]+)/"', html
    )
    assert len(shown) == 1 and actions.resolve_link(shown[0]).pk == link.pk
    assert 'title="Made by a schedule">scheduled</span>' in html
    # Read-only staff see the link's status but not the patient's credential.
    html = client_as(auditor).get(f"/assessments/patient/{patient.pk}/").content.decode()
    assert f'data-link-id="{link.pk}"' in html and "/assessments/r/" not in html
    # Once answered, the URL is no longer offered.
    actions.do_submit_remote_answers(token=shown[0], answers=[0] * 7)
    html = client_as(nurse).get(f"/assessments/patient/{patient.pk}/").content.decode()
    assert f'data-link-id="{link.pk}"' in html and "/assessments/r/" not in html
    sched.refresh_from_db()
    assert sched.next_due_at == link.available_from + dt.timedelta(days=7)


def _many_scores(nurse: Any, patient: Any, n: int) -> None:
    start = timezone.now() - dt.timedelta(days=n + 1)
    for i in range(n):
        actions.do_record_assessment(
            actor=nurse, patient_id=patient.pk, instrument_id="gad7", answers=[i % 4] * 7, context="pre_dose",
            assessed_at=start + dt.timedelta(days=i),
        )  # fmt: skip


def test_chart_tab_reads_neither_answers_nor_fhir_documents_and_its_queries_do_not_grow(
    client_as: Any, nurse: Any, patient: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _many_scores(nurse, patient, 5)
    c = client_as(nurse)
    c.get(f"/assessments/patient/{patient.pk}/")  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert c.get(f"/assessments/patient/{patient.pk}/").status_code == 200
    assessment_sql = [q["sql"] for q in few.captured_queries if 'FROM "assessments_assessment"' in q["sql"]]
    assert assessment_sql and not [s for s in assessment_sql if "fhir_response" in s or '"answers"' in s]
    _many_scores(nurse, patient, 25)
    with CaptureQueriesContext(connection) as more:
        r = c.get(f"/assessments/patient/{patient.pk}/")
    assert r.content.decode().count('class="point"') == 30
    assert len(more.captured_queries) == len(few.captured_queries)


def test_api_assessment_list_is_paginated(client_as: Any, nurse: Any, patient: Any) -> None:
    _many_scores(nurse, patient, 7)
    c = client_as(nurse)
    url = f"/api/v1/assessments/patients/{patient.pk}/assessments"
    first = c.get(url, {"limit": 3}).json()
    assert (first["count"], first["offset"], first["limit"], first["next_offset"]) == (7, 0, 3, 3)
    last = c.get(url, {"limit": 3, "offset": 6}).json()
    assert (len(last["assessments"]), last["next_offset"]) == (1, None)
    dates = [a["assessed_at"] for a in first["assessments"]]
    assert dates == sorted(dates, reverse=True)
    assert c.get(url).json()["limit"] == 100
    before = AuditEvent.objects.filter(action="assessment.list").count()
    for params, field, reason in (
        ({"limit": 0}, "limit", "must be between 1 and 500"),
        ({"limit": 501}, "limit", "must be between 1 and 500"),
        ({"offset": -1}, "offset", "must be 0 or more"),
    ):
        r = c.get(url, params)
        assert r.status_code == 400
        assert r.json()["error"]["fields"] == {field: [reason]}
    assert AuditEvent.objects.filter(action="assessment.list").count() == before  # refusals read nothing
