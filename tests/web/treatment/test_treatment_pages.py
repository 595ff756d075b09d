"""Sessions board, escalation chart banner, and the clinic-protocol admin page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import yaml
from django.utils import timezone
from tests.web.treatment.treatment_helpers import session_for, start

from ketaclinic.core.protocols import get_protocol
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import Administration, ClinicProtocol, DosingSession, Order

pytestmark = pytest.mark.django_db


def test_board_lists_todays_sessions_with_run_sheet_links(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    today = session_for(prescriber, nurse, patient)
    # A session scheduled yesterday that is still running stays on the board; a cancelled one today does not.
    yesterday = DosingSession.objects.create(
        clinic=patient.clinic,
        patient=patient,
        course=today.course,
        scheduled_for=timezone.now() - dt.timedelta(days=1),
        status=DosingSession.Status.MONITORING,
    )
    cancelled = DosingSession.objects.create(
        clinic=patient.clinic,
        patient=patient,
        course=today.course,
        scheduled_for=timezone.now(),
        status=DosingSession.Status.CANCELLED,
    )
    old_done = DosingSession.objects.create(
        clinic=patient.clinic,
        patient=patient,
        course=today.course,
        scheduled_for=timezone.now() - dt.timedelta(days=3),
        status=DosingSession.Status.DISCHARGED,
    )
    r = client_as(nurse).get("/treatment/")
    assert r.status_code == 200
    body = r.content.decode()
    assert f'href="/treatment/sessions/{today.pk}/"' in body
    assert f'href="/treatment/sessions/{yesterday.pk}/"' in body
    assert f'href="/treatment/sessions/{cancelled.pk}/"' not in body
    assert f'href="/treatment/sessions/{old_done.pk}/"' not in body
    assert 'href="/treatment/rems/"' in body
    ev = AuditEvent.objects.get(action="treatment.board.view")
    assert ev.detail == {"sessions": [yesterday.pk, today.pk]}


def test_nav_shows_sessions_link(nurse: Any, client_as: Any, clinic: Any) -> None:
    r = client_as(nurse).get("/treatment/")
    assert r.status_code == 200
    assert b"No sessions today." in r.content
    assert b'href="/treatment/"' in r.content


def test_board_refuses_user_without_clinic(client_as: Any, make_user: Any, other_clinic: Any) -> None:
    stranger = make_user("nurse", clinic=other_clinic, username="stranger")
    r = client_as(stranger).get("/treatment/")
    # The stranger's active clinic is their own: they see their own (empty) board, never this clinic's sessions.
    assert r.status_code == 200 and b"Other Clinic" in r.content


def _dose_at(course: Any, patient: Any, nurse: Any, when: dt.datetime, mg: str) -> None:
    order = Order.objects.create(
        course=course,
        patient=patient,
        drug="ketamine",
        route="iv",
        dose_mg=Decimal(mg),
        duration_min=40,
        weight_kg=Decimal("70.0"),
        planned_for=when,
        guard_decision="allow",
        signed_by=course.started_by,
        signed_at=when,
    )
    s = DosingSession.objects.create(
        clinic=patient.clinic,
        patient=patient,
        course=course,
        order=order,
        scheduled_for=when,
        first_dose_at=when,
        status=DosingSession.Status.DISCHARGED,
    )
    Administration.objects.create(
        session=s,
        order=order,
        drug="ketamine",
        route="iv",
        dose_mg=Decimal(mg),
        duration_min=40,
        lot_number="KET-L1",
        administered_at=when,
        administered_by=nurse,
        guard_decision="allow",
    )


def test_escalation_banner_on_chart(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    course = start(prescriber, patient)
    c = client_as(prescriber)
    r = c.get(f"/patients/{patient.pk}/")
    assert b"Dosing signal" not in r.content
    t0 = timezone.now() - dt.timedelta(days=28)
    for i, mg in enumerate(["30", "33", "36", "39"]):
        _dose_at(course, patient, nurse, t0 + dt.timedelta(days=7 * i), mg)
    r = c.get(f"/patients/{patient.pk}/")
    body = r.content.decode()
    assert "Dosing signal: " in body
    assert "escalat" in body.lower() or "increase" in body.lower()
    assert f'href="/treatment/patients/{patient.pk}/"' in body


def _definition(**changes: Any) -> str:
    raw = dict(get_protocol("oral-sublingual-compounded").raw)
    raw.update({"id": "clinic-oral-low", "name": "Oral low start"}, **changes)
    return yaml.safe_dump(raw, sort_keys=False)


def test_admin_adds_clinic_protocol(admin_user: Any, client_as: Any, clinic: Any) -> None:
    c = client_as(admin_user)
    r = c.get("/treatment/protocols/")
    body = r.content.decode()
    assert r.status_code == 200 and "clinic-oral-sublingual-compounded" not in body  # no YAML until asked
    assert '<h2 class="card__title" id="h-protocol-iv-racemic-depression">' in body
    assert "<div><dt>Usual dose</dt>" in body
    r = c.get("/treatment/protocols/", {"base": "oral-sublingual-compounded"})
    assert r.status_code == 200 and b"clinic-oral-sublingual-compounded" in r.content
    r = c.get("/treatment/protocols/", {"download": "iv-racemic-depression"})
    assert r["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(r.content)["id"] == "iv-racemic-depression"
    assert c.get("/treatment/protocols/", {"base": "nope"}).status_code == 400
    r = c.post("/treatment/protocols/", {"definition": _definition()})
    assert r.status_code == 302
    cp = ClinicProtocol.objects.get()
    assert (cp.clinic_id, cp.protocol_id, cp.created_by_id) == (clinic.pk, "clinic-oral-low", admin_user.pk)
    assert AuditEvent.objects.filter(action="protocol.add").count() == 1
    r = c.get("/treatment/protocols/")
    assert b"Oral low start" in r.content


def test_admin_protocol_errors_name_the_field(admin_user: Any, client_as: Any) -> None:
    c = client_as(admin_user)
    audit_before = AuditEvent.objects.filter(action="protocol.add").count()
    bad = dict(get_protocol("oral-sublingual-compounded").raw)
    bad = {**bad, "id": "clinic-bad", "dose": {**bad["dose"], "default": {"value": -1, "evidence": "R"}}}
    r = c.post("/treatment/protocols/", {"definition": yaml.safe_dump(bad)})
    assert r.status_code == 400
    body = r.content.decode()
    assert "<strong>definition.dose.default" in body
    assert 'aria-invalid="true"' in body
    r = c.post("/treatment/protocols/", {"definition": "id: [unclosed"})
    assert r.status_code == 400 and "<strong>definition</strong>: not valid YAML" in r.content.decode()
    r = c.post("/treatment/protocols/", {"definition": _definition(id="iv-racemic-depression")})
    assert r.status_code == 400
    assert "<strong>definition.id</strong>: clashes with a packaged protocol id" in r.content.decode()
    assert ClinicProtocol.objects.count() == 0
    assert AuditEvent.objects.filter(action="protocol.add").count() == audit_before


def test_clinic_infusion_protocol_without_guard_rails_is_refused(admin_user: Any, client_as: Any) -> None:
    import copy

    raw = copy.deepcopy(dict(get_protocol("iv-ketamine-chronic-pain").raw))
    raw.update({"id": "clinic-pain-long", "name": "Long pain infusion"})
    for key in ("session_max_mg_per_kg", "max_duration_min"):
        raw["infusion"].pop(key)
    audit_before = AuditEvent.objects.filter(action="protocol.add").count()
    r = client_as(admin_user).post("/treatment/protocols/", {"definition": yaml.safe_dump(raw)})
    assert r.status_code == 400
    body = r.content.decode()
    assert (
        "<strong>definition.infusion.session_max_mg_per_kg</strong>: is required for a weight-based infusion protocol"
        in body
    )
    assert "<strong>definition.infusion.max_duration_min</strong>" in body
    assert ClinicProtocol.objects.count() == 0
    assert AuditEvent.objects.filter(action="protocol.add").count() == audit_before


def test_protocol_page_is_for_clinic_admins_only(prescriber: Any, client_as: Any) -> None:
    r = client_as(prescriber).post("/treatment/protocols/", {"definition": _definition()})
    assert r.status_code == 403
    assert ClinicProtocol.objects.count() == 0


def test_clinic_protocol_can_start_a_course(
    cleared: None, admin_user: Any, prescriber: Any, patient: Any, clinic: Any
) -> None:
    raw = dict(get_protocol("oral-sublingual-compounded").raw)
    raw.update({"id": "clinic-oral-low", "name": "Oral low start"})
    A.do_add_clinic_protocol(actor=admin_user, clinic=clinic, definition=raw)
    course = start(prescriber, patient, "clinic-oral-low")
    assert (course.protocol_id, course.protocol_snapshot["name"]) == ("clinic-oral-low", "Oral low start")


def test_order_screen_includes_pk_fragment_for_the_order_regimen(
    cleared: None, prescriber: Any, patient: Any, client_as: Any
) -> None:
    import html
    import re

    course = start(prescriber, patient)
    c = client_as(prescriber)
    body = c.get(f"/treatment/patients/{patient.pk}/").content.decode()
    m = re.search(rf'id="pk-curve-{course.pk}"[^>]*hx-get="([^"]+)"', body)
    assert m is not None
    url = html.unescape(m.group(1))
    assert url == f"/decision/patients/{patient.pk}/pk-curve/?drug=ketamine&route=iv"
    # The regimen: 0.5 mg/kg x 70 kg = 35 mg over 40 min unless the prescriber types another dose.
    # (app.js sends the typed dose or these defaults; the page has no eval'd attribute code, for the CSP.)
    assert f'data-pk-dose="dose_mg_{course.pk}" data-pk-default-mg="35"' in body
    assert f'data-pk-duration="duration_{course.pk}" data-pk-default-duration="40"' in body
    r = c.get(url + "&amount_mg=35&duration_min=40", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert b"<svg" in r.content


def test_treatment_tab_reads_the_latest_weight_once(nurse: Any, patient: Any, client_as: Any) -> None:
    """chart_context reads the weight; the tab and its dose-creep signals reuse it (was three reads)."""
    import datetime as _dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone as _tz

    from ketaclinic.web.patients.models import WeightMeasurement

    WeightMeasurement.objects.create(
        patient=patient, weight_kg=70, measured_at=_tz.now() - _dt.timedelta(days=1)
    )
    c = client_as(nurse)
    c.get(f"/treatment/patients/{patient.pk}/")
    with CaptureQueriesContext(connection) as q:
        r = c.get(f"/treatment/patients/{patient.pk}/")
    assert r.status_code == 200
    assert len([x for x in q.captured_queries if 'FROM "patients_weightmeasurement"' in x["sql"]]) == 1
