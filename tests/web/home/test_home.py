"""The role home page: each section's selector gives exact counts and links; a user sees every role's sections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.accounts.models import Membership
from ketaclinic.web.assessments.models import Assessment
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.home import sections
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.screening.models import FindingReview, ScreeningRun
from ketaclinic.web.surveillance.demo import seed_dose_history
from ketaclinic.web.treatment.models import DosingSession, RemsMonitoringForm, SessionAlert

pytestmark = pytest.mark.django_db


def _ago(**kw: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kw)


def _run(patient: Any, user: Any, decision: str, findings: list[dict[str, str]]) -> ScreeningRun:
    return ScreeningRun.objects.create(
        patient=patient, decision=decision, ruleset_version="test@1", on=timezone.localdate(), route="iv",
        result={"findings": findings}, trigger="test", created_by=user, created_at=_ago(hours=2),
    )  # fmt: skip


def _score(patient: Any, nurse: Any, total: int, when: dt.datetime) -> None:
    Assessment.objects.create(
        clinic_id=patient.clinic_id, patient=patient, instrument_id="phq9", instrument_version="1", answers=[],
        complete=True, total=total, fhir_response={},
        context="follow_up", source="staff", assessed_at=when, recorded_by=nurse,
    )  # fmt: skip


def test_prescriber_sections_exact(
    prescriber: Any, prescriber2: Any, nurse: Any, patient: Any, clinic: Any, client_as: Any
) -> None:
    course = seed_dose_history(
        patient, prescriber=prescriber, nurse=nurse, doses=[(_ago(days=40), Decimal("35"))]
    )
    done = DosingSession.objects.get(course=course)
    # a PHQ-9 of 10 before the first dose, 14 after: worsening
    _score(patient, nurse, 10, _ago(days=41))
    _score(patient, nurse, 14, _ago(days=2))
    # the latest screening needs review: one relative finding open, one cleared, a caution ignored
    _run(patient, prescriber, "eligible", [])
    run = _run(patient, prescriber, "needs_review", [
        {"code": "htn", "level": "relative"}, {"code": "age", "level": "relative"}, {"code": "x", "level": "caution"},
    ])  # fmt: skip
    FindingReview.objects.create(
        run=run,
        finding_code="age",
        kind="clear_relative",
        reason="ok",
        prescriber=prescriber,
        created_at=_ago(hours=1),
    )
    # an override proposed by the other prescriber waits for this one's co-signature; this one's own does not
    FindingReview.objects.create(
        run=run, finding_code="htn", kind="override_absolute", reason="BP controlled on two readings",
        prescriber=prescriber2, created_at=_ago(hours=1),
    )  # fmt: skip
    # a booked session without an order, and a cancelled one (not counted)
    DosingSession.objects.create(clinic=clinic, site=patient.home_site, patient=patient, course=course,
                                 scheduled_for=_ago(days=-1))  # fmt: skip
    DosingSession.objects.create(clinic=clinic, patient=patient, course=course, status="cancelled",
                                 scheduled_for=_ago(days=-2))  # fmt: skip
    RemsMonitoringForm.objects.create(session=done, data={}, generated_at=_ago(days=40),
                                      due_on=timezone.localdate() - dt.timedelta(days=1))  # fmt: skip
    SessionAlert.objects.create(session=done, code="hr_high", level="warn", message="Heart rate 121 per minute",
                                raised_at=_ago(minutes=5))  # fmt: skip

    got = {s.key: s for s in sections.sections_for(prescriber, clinic, {"prescriber"})}
    assert list(got) == ["alerts", "screening", "cosign", "orders", "rems", "trends"]
    assert {k: s.count for k, s in got.items()} == {
        "alerts": 1, "screening": 1, "cosign": 1, "orders": 1, "rems": 1, "trends": 1
    }  # fmt: skip
    assert got["alerts"].items[0].text == "Session alert — Alex Rivera"
    assert got["alerts"].items[0].level == "warn"  # shown as the "Attention" tag
    assert got["alerts"].items[0].url == f"/treatment/sessions/{done.pk}/"
    assert got["screening"].items[0].meta.startswith("1 finding to review, screened ")
    assert got["screening"].items[0].url == f"/screening/patients/{patient.pk}/"
    assert got["cosign"].items[0].text == "Alex Rivera: override proposed by Prescriber 2"
    assert got["orders"].items[0].url == f"/treatment/patients/{patient.pk}/"
    assert got["rems"].items[0].meta.startswith("Overdue since ") and got["rems"].items[0].level == "danger"
    assert got["trends"].items[0].meta == "PHQ-9 worse than baseline: 10 to 14"
    assert got["trends"].items[0].level == "danger"
    # the other prescriber proposed the override: nothing to co-sign for them
    assert sections.cosign_section(prescriber2, clinic).count == 0

    page = client_as(prescriber).get("/").content.decode()
    for key in got:
        assert f'id="section-{key}"' in page
    assert 'href="/alerts/"' in page and "PHQ-9 worse than baseline: 10 to 14" in page
    assert AuditEvent.objects.filter(action="home.view").latest("pk").detail == {
        "sections": {"alerts": 1, "screening": 1, "cosign": 1, "orders": 1, "rems": 1, "trends": 1}
    }


def test_not_responding_after_induction_only(prescriber: Any, nurse: Any, patient: Any, clinic: Any) -> None:
    seed_dose_history(patient, prescriber=prescriber, nurse=nurse, doses=[(_ago(days=40), Decimal("35"))])
    _score(patient, nurse, 20, _ago(days=41))
    _score(patient, nurse, 16, _ago(days=30))  # 10 days after the first dose: not yet judged
    assert sections.trends_section(prescriber, clinic).count == 0
    _score(patient, nurse, 15, _ago(days=5))  # 35 days: past the 28-day induction, 25 % lower: not responding
    s = sections.trends_section(prescriber, clinic)
    assert [(i.text, i.meta, i.level) for i in s.items] == [
        ("Alex Rivera", "PHQ-9 not responding after induction: 20 to 15", "warn")
    ]
    _score(patient, nurse, 9, _ago(days=1))  # 55 % lower: a response
    assert sections.trends_section(prescriber, clinic).count == 0


def test_nurse_today_by_site_with_status_and_alerts(
    prescriber: Any, nurse: Any, front_desk: Any, patient: Any, clinic: Any, site: Any, client_as: Any
) -> None:
    course = seed_dose_history(
        patient, prescriber=prescriber, nurse=nurse, doses=[(_ago(days=9), Decimal("35"))]
    )
    now = timezone.now()
    running = DosingSession.objects.create(
        clinic=clinic, site=site, patient=patient, course=course, status="dosing", scheduled_for=now,
        checked_in_at=now - dt.timedelta(minutes=20), first_dose_at=now - dt.timedelta(minutes=10),
    )  # fmt: skip
    SessionAlert.objects.create(session=running, code="spo2_low", level="critical", message="SpO2 89 %",
                                raised_at=now)  # fmt: skip
    s = sections.todays_sessions_section(nurse, clinic)
    assert s.count == 1 and [g for g, _ in s.groups] == ["Main"]
    item = s.groups[0][1][0]
    started = timezone.localtime(running.first_dose_at).strftime("%H:%M")
    assert item.meta == f"{timezone.localtime(now):%H:%M %Z} · Dosing · dose started {started} · 1 open alert"
    assert item.url == f"/treatment/sessions/{running.pk}/" and item.level == "danger"
    assert item.since == running.first_dose_at and item.elapsed_min == 10
    nurse_page = client_as(nurse).get("/").content.decode()
    assert (
        f'data-elapsed-since="{timezone.localtime(running.first_dose_at).isoformat()}">10 min<' in nurse_page
    )
    live = sections.live_alerts_section(nurse, clinic)
    assert live.count == 1 and (live.items[0].text, live.items[0].level) == ("Alex Rivera", "danger")
    # the front desk sees the schedule only: time and patient, linking to the chart
    desk = {x.key: x for x in sections.sections_for(front_desk, clinic, {"front_desk"})}
    assert list(desk) == ["today"]
    assert desk["today"].groups[0][1][0].meta == f"{timezone.localtime(now):%H:%M %Z}"
    assert desk["today"].groups[0][1][0].url == f"/patients/{patient.pk}/"
    page = client_as(front_desk).get("/").content.decode()
    assert "SpO2" not in page and "Dosing" not in page and "Alex Rivera" in page


def test_auditor_sees_recent_exceptions_only(auditor: Any, nurse: Any, clinic: Any) -> None:
    from django.db import transaction

    with transaction.atomic():
        record_audit(actor=nurse, action="access.denied", clinic=clinic, detail={"reason": "x"})
        record_audit(actor=nurse, action="patient.view", clinic=clinic)
        record_audit(actor=nurse, action="ledger.case.open", clinic=clinic)
    s = sections.exceptions_section(auditor, clinic)
    assert s.count == 2
    assert [i.text for i in s.items] == ["Ledger discrepancy opened", "Access refused"]
    assert s.items[1].url == "/audit/?action=access.denied"


def test_admin_staff_and_pending_approvals(admin_user: Any, make_user: Any, clinic: Any) -> None:
    make_user("nurse")
    p = make_user("prescriber")
    Membership.objects.filter(user=p).update(approval_required=True, granted_by=admin_user)
    got = {s.key: s for s in sections.sections_for(admin_user, clinic, {"clinic_admin"})}
    assert list(got) == ["staff", "approvals", "settings"]
    assert got["staff"].count == 3
    assert sorted((i.text, i.meta) for i in got["staff"].items) == [
        ("Clinic admin", "1 active"), ("Nurse / session monitor", "1 active"), ("Prescriber", "1 active")
    ]  # fmt: skip
    assert got["approvals"].count == 1
    assert got["approvals"].items[0].text == f"{p.display_name}: Prescriber"
    assert got["settings"].items == []  # no site in this clinic yet (the site fixture is not used)


def test_custodian_empty_clinic_and_several_roles(make_user: Any, clinic: Any, client_as: Any) -> None:
    u = make_user("custodian")
    Membership.objects.create(user=u, clinic=clinic, role="auditor")
    got = sections.sections_for(u, clinic, {"custodian", "auditor"})
    assert [(s.key, s.count) for s in got] == [
        ("stock", 0), ("reconcile", 0), ("cases", 0), ("inventory", 0), ("exceptions", 0)
    ]  # fmt: skip
    assert [s.empty for s in got[:4]] == [
        "No stock on hand.", "Every withdrawal is reconciled.", "No open discrepancy.", "No site holds stock yet."
    ]  # fmt: skip
    page = client_as(u).get("/")
    assert page.status_code == 200
    assert page.content.decode().count('<section class="card" id="section-') == 5
