"""The alert inbox: every open alert kind of the clinic, ordered, filtered, paginated; acknowledging needs a chosen
action, is audited, and takes the alert out of the inbox and the nav count."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.assessments.models import SuicideAlert
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.home import actions, inbox
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.monitoring.models import MonitoringAlert
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.surveillance.actions import do_record_lab_result
from ketaclinic.web.surveillance.demo import seed_dose_history
from ketaclinic.web.surveillance.models import SurveillanceDecision
from ketaclinic.web.treatment.models import DosingSession, SessionAlert

pytestmark = pytest.mark.django_db


def _ago(**kw: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kw)


def _session(patient: Any, prescriber: Any, nurse: Any) -> DosingSession:
    course = seed_dose_history(
        patient, prescriber=prescriber, nurse=nurse, doses=[(_ago(days=3), Decimal("35"))]
    )
    return DosingSession.objects.get(course=course)


def _suicide(nurse: Any, patient: Any, minutes: float) -> SuicideAlert:
    a = do_record_assessment(
        actor=nurse, patient_id=patient.pk, instrument_id="phq9", answers=[1] * 9,
        context="follow_up", assessed_at=_ago(minutes=minutes),
    )  # fmt: skip
    alert = SuicideAlert.objects.get(assessment=a)
    SuicideAlert.objects.filter(pk=alert.pk).update(raised_at=_ago(minutes=minutes))
    alert.refresh_from_db()
    return alert


def _session_alert(session: DosingSession, level: str, minutes: float) -> SessionAlert:
    return SessionAlert.objects.create(
        session=session, code="spo2_low", level=level, message="Oxygen saturation 89 % (below 90 %)",
        raised_at=_ago(minutes=minutes),
    )  # fmt: skip


def _sensor_alert(session: DosingSession, severity: str, minutes: float) -> MonitoringAlert:
    return MonitoringAlert.objects.create(
        session=session, site=session.site, rule_id="hr_high", rule_type="threshold", severity=severity,
        metric="hr", value=131, unit="/min", message="Heart rate 131 per minute (above 130)", source="demo",
        ruleset="default@1", fired_at=_ago(minutes=minutes), raised_at=_ago(minutes=minutes),
    )  # fmt: skip


def _haematuria(patient: Any, nurse: Any) -> None:
    do_record_lab_result(
        actor=nurse, patient_id=patient.pk, loinc="5794-3", value="2+", taken_at=_ago(days=2)
    )


@pytest.fixture
def world(prescriber: Any, nurse: Any, patient: Any) -> dict[str, Any]:
    session = _session(patient, prescriber, nurse)
    return {
        "session": session,
        "suicide": _suicide(nurse, patient, 30),
        "session_warn": _session_alert(session, "warn", 50),
        "session_crit": _session_alert(session, "critical", 10),
        "sensor": _sensor_alert(session, "critical", 20),
    }


def _snapshot() -> tuple[int, int, int, int, int]:
    return (
        SuicideAlert.objects.filter(acknowledged_at__isnull=True).count(),
        SessionAlert.objects.filter(acknowledged_at__isnull=True).count(),
        MonitoringAlert.objects.filter(acknowledged_at__isnull=True).count(),
        SurveillanceDecision.objects.count(),
        AuditEvent.objects.count(),
    )


def test_every_kind_by_severity_then_age(
    world: dict[str, Any], prescriber: Any, nurse: Any, patient: Any, clinic: Any
) -> None:
    _haematuria(patient, nurse)
    items = inbox.inbox_alerts(prescriber, clinic)
    assert [(a.kind, a.severity, a.ref) for a in items] == [
        ("suicide_risk", "critical", str(world["suicide"].pk)),  # 30 min
        ("sensor", "critical", str(world["sensor"].pk)),  # 20 min
        ("session", "critical", str(world["session_crit"].pk)),  # 10 min
        ("safety", "warning", "haematuria"),  # 2 days
        ("session", "warning", str(world["session_warn"].pk)),  # 50 min
    ]
    assert {a.patient.pk for a in items} == {patient.pk}
    assert items[0].act_url == f"/assessments/patient/{patient.pk}/"
    assert items[1].act_url == f"/monitoring/sites/{world['session'].site_id}/board/"
    assert items[2].act_url == f"/treatment/sessions/{world['session'].pk}/"
    assert items[3].act_url == f"/safety/patient/{patient.pk}/"
    assert items[3].title == "Blood in the urine"
    assert [v for v, _ in items[0].actions] == ["safety_plan", "contact", "referral"]
    # a nurse sees them all; acknowledges bedside alerts only
    seen = inbox.inbox_alerts(nurse, clinic)
    assert [a.key for a in seen] == [a.key for a in items]
    assert [bool(a.actions) for a in seen] == [False, True, True, False, True]


def test_filters_and_who_sees_nothing(
    world: dict[str, Any], prescriber: Any, front_desk: Any, admin_user: Any, custodian: Any, clinic: Any,
    other_clinic: Any,
) -> None:  # fmt: skip
    assert [a.kind for a in inbox.inbox_alerts(prescriber, clinic, kind="session")] == ["session", "session"]
    assert [a.kind for a in inbox.inbox_alerts(prescriber, clinic, severity="warning")] == ["session"]
    assert inbox.inbox_alerts(prescriber, clinic, kind="sensor", severity="warning") == []
    for user in (front_desk, admin_user, custodian):
        assert inbox.inbox_alerts(user, clinic) == []
        assert inbox.open_alert_count(user, clinic) == 0
    assert inbox.inbox_alerts(prescriber, other_clinic) == []


def test_nav_count_is_one_count_query(world: dict[str, Any], prescriber: Any, clinic: Any) -> None:
    has_perm = inbox.has_perm_in_clinic(prescriber, clinic, inbox.Perm.CLINICAL_VIEW)  # warm the role cache
    assert has_perm is True
    with CaptureQueriesContext(connection) as q:
        assert inbox.open_alert_count(prescriber, clinic) == 4
    assert len(q.captured_queries) == 1
    assert "COUNT(" in q.captured_queries[0]["sql"].upper()


def test_acknowledge_each_kind_leaves_inbox_and_count(
    world: dict[str, Any], prescriber: Any, nurse: Any, patient: Any, clinic: Any
) -> None:
    _haematuria(patient, nurse)

    def ack(kind: str, ref: Any, action: str, note: str = "") -> None:
        actions.do_acknowledge_inbox_alert(
            actor=prescriber,
            clinic=clinic,
            kind=kind,
            ref=ref,
            patient_id=patient.pk,
            action=action,
            note=note,
        )

    ack("suicide_risk", world["suicide"].pk, "safety_plan", "Safety plan made with the patient")
    s = SuicideAlert.objects.get(pk=world["suicide"].pk)
    assert (s.action, s.note, s.acknowledged_by) == (
        "safety_plan",
        "Safety plan made with the patient",
        prescriber,
    )
    assert inbox.open_alert_count(prescriber, clinic) == 3

    ack("session", world["session_crit"].pk, "reassessed")
    row = AuditEvent.objects.get(action="session_alert.action")
    assert row.detail == {
        "alert": world["session_crit"].pk, "code": "spo2_low", "action": "reassessed", "note": ""
    }  # fmt: skip
    assert AuditEvent.objects.filter(action="session_alert.acknowledge").count() == 1
    assert SessionAlert.objects.get(pk=world["session_crit"].pk).acknowledged_by == prescriber

    ack("sensor", world["sensor"].pk, "artefact")
    m = MonitoringAlert.objects.get(pk=world["sensor"].pk)
    assert (m.ack_action, m.acknowledged_by) == ("artefact", prescriber)
    assert AuditEvent.objects.filter(action="monitoring.alert.acknowledge").count() == 1

    ack("safety", "haematuria", "refer_urology", "2+ blood: urology for cystoscopy")
    d = SurveillanceDecision.objects.get()
    assert (d.alert_code, d.decision, d.reason) == (
        "haematuria",
        "refer_urology",
        "2+ blood: urology for cystoscopy",
    )

    assert [a.ref for a in inbox.inbox_alerts(prescriber, clinic)] == [str(world["session_warn"].pk)]
    assert inbox.open_alert_count(prescriber, clinic) == 1


@pytest.mark.parametrize(
    ("kind", "ref_key", "action", "note", "fields"),
    [
        ("suicide_risk", "suicide", "", "done", {"action": ["choose what was done"]}),
        ("suicide_risk", "suicide", "contact", "", {"note": ["say what was done (patient contacted)"]}),
        (
            "session",
            "session_crit",
            "bogus",
            "",
            {"action": ["must be one of: " + ", ".join(label for _, label in inbox.BEDSIDE_ACTIONS)]},
        ),
        ("sensor", "sensor", "other", " ", {"note": ["say what was done (other (see note))"]}),
        ("safety", None, "continue", "", {"note": ["give the reason for the decision"]}),
        (
            "nonsense",
            "sensor",
            "artefact",
            "",
            {
                "kind": [
                    "must be one of: Suicide risk, Session (vitals or sedation), Sensor (live monitoring), Long-term safety"
                ]
            },
        ),
        ("session", "session_crit", "reassessed", "x" * 501, {"note": ["must be at most 500 characters"]}),
    ],
)
def test_bad_acknowledgements_change_nothing(
    world: dict[str, Any], prescriber: Any, patient: Any, clinic: Any,
    kind: str, ref_key: str | None, action: str, note: str, fields: dict[str, list[str]],
) -> None:  # fmt: skip
    before = _snapshot()
    ref = world[ref_key].pk if ref_key else "haematuria"
    with pytest.raises(ValidationFailed) as exc:
        actions.do_acknowledge_inbox_alert(
            actor=prescriber,
            clinic=clinic,
            kind=kind,
            ref=ref,
            patient_id=patient.pk,
            action=action,
            note=note,
        )
    assert exc.value.fields == fields
    assert _snapshot() == before


def test_other_clinic_alert_is_not_found(
    world: dict[str, Any], make_user: Any, other_clinic: Any, patient: Any
) -> None:
    outsider = make_user("prescriber", clinic=other_clinic)
    before = _snapshot()
    for kind, key in (("suicide_risk", "suicide"), ("session", "session_crit"), ("sensor", "sensor")):
        with pytest.raises(NotFoundError):
            actions.do_acknowledge_inbox_alert(
                actor=outsider, clinic=other_clinic, kind=kind, ref=world[key].pk, patient_id=patient.pk,
                action="reassessed" if kind != "suicide_risk" else "contact", note="called",
            )  # fmt: skip
    assert _snapshot() == before


def test_inbox_page_lists_filters_acknowledges_and_audits(
    world: dict[str, Any], prescriber: Any, patient: Any, client_as: Any
) -> None:
    c = client_as(prescriber)
    page = c.get("/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="card" id="alert-') == 4
    assert "4 open alerts" in html
    assert 'data-nav-alert-count><span class="sr-only">(</span>4<' in html
    assert "Alex Rivera" in html and "Suicide risk on a questionnaire" in html
    assert 'type="radio" name="action" value="contact" >' in html  # none pre-selected
    assert re.search(r"<input[^>]*\bchecked\b", html) is None
    view = AuditEvent.objects.filter(action="alert_inbox.view").latest("pk")
    assert view.detail == {"kind": "", "severity": "", "page": 1, "alerts": 4, "patients": [patient.pk]}

    # no action chosen: 400, the note is kept, nothing acknowledged
    before = _snapshot()
    bad = c.post("/alerts/", {"kind": "sensor", "ref": world["sensor"].pk, "patient": patient.pk,
                              "note": "checked the probe"})  # fmt: skip
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "Action taken: choose what was done" in body
    assert ">checked the probe</textarea>" in body
    assert _snapshot()[:4] == before[:4]

    ok = c.post("/alerts/?kind=sensor", {"kind": "sensor", "ref": world["sensor"].pk, "patient": patient.pk,
                                         "action": "sensor_repositioned"})  # fmt: skip
    assert ok.status_code == 302 and ok["Location"] == "/alerts/?kind=sensor"
    after = c.get("/alerts/?kind=sensor").content.decode()
    assert "0 open alerts" in after and "No open alerts match these filters." in after
    assert 'sr-only">(</span>3<' in after


def test_inbox_rejects_bad_filters_and_roles(
    prescriber: Any, front_desk: Any, custodian: Any, client_as: Any, clinic: Any
) -> None:
    r = client_as(prescriber).get("/alerts/?kind=bogus&severity=loud&page=0")
    assert r.status_code == 400
    body = r.content.decode()
    assert "Kind: must be one of: Suicide risk" in body
    assert "Severity: must be one of: Urgent, Warning" in body
    assert "Page: must be a page number (1 or more)" in body
    for user in (front_desk, custodian):
        assert client_as(user).get("/alerts/").status_code == 403


def test_inbox_paginates_25(prescriber: Any, nurse: Any, clinic: Any, site: Any, client_as: Any) -> None:
    patients = [
        Patient.objects.create(clinic=clinic, home_site=site, mrn=f"P{i}", given_name="Pat", family_name=f"N{i}",
                               birth_date=dt.date(1980, 1, 1), sex_at_birth="male")
        for i in range(27)
    ]  # fmt: skip
    for i, p in enumerate(patients):
        _suicide(nurse, p, 100 - i)
    c = client_as(prescriber)
    first = c.get("/alerts/").content.decode()
    assert first.count('class="card" id="alert-') == 25 and "page 1 of 2" in first
    second = c.get("/alerts/?page=2").content.decode()
    assert second.count('class="card" id="alert-') == 2
    assert "Pat N25" in second and "Pat N26" in second
