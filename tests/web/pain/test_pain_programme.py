"""Pain programme: opioid list (add, taper, stop), MME/day and its warnings, naloxone, pain indication, sparing,
run-sheet opioid panel, chart tab and the clinic's share; refusals store nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.pain import actions, selectors
from ketaclinic.web.pain.models import (
    CoursePainIndication,
    LastOpioidDose,
    NaloxoneOffer,
    OpioidMedication,
    OpioidRiskFactors,
)
from ketaclinic.web.patients.models import Patient


def today() -> dt.date:
    return timezone.localdate()


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


def course(
    patient: Patient, by: User, *, indication: str = "chronic_pain", started: dt.date | None = None
) -> Any:
    from ketaclinic.core.protocols import get_protocol
    from ketaclinic.web.treatment.models import TreatmentCourse

    start = started or days_ago(100)
    return TreatmentCourse.objects.create(
        clinic=patient.clinic,
        patient=patient,
        protocol_id="iv-ketamine-chronic-pain",
        protocol_version=1,
        protocol_snapshot=dict(get_protocol("iv-ketamine-chronic-pain").raw),
        indication=indication,
        started_by=by,
        started_at=timezone.make_aware(dt.datetime.combine(start, dt.time(9, 0))),
    )


def add(actor: User, patient: Patient, **kw: Any) -> OpioidMedication:
    base: dict[str, Any] = {
        "rxcui": "7804",
        "route": "oral",
        "dose": "10",
        "unit": "mg",
        "doses_per_day": "2",
        "started_on": days_ago(120),
    }
    base.update(kw)
    return actions.do_add_opioid_medication(actor=actor, patient_id=patient.pk, **base)


def snapshot() -> tuple[int, int, int, int, int]:
    return (
        OpioidMedication.objects.count(),
        AuditEvent.objects.count(),
        NaloxoneOffer.objects.count(),
        CoursePainIndication.objects.count(),
        LastOpioidDose.objects.count(),
    )


def refused(fn: Callable[[], Any], field: str, fragment: str = "") -> None:
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        fn()
    assert field in exc.value.fields, exc.value.fields
    assert fragment in " ".join(exc.value.fields[field])
    assert snapshot() == before


def test_add_opioid_stores_the_line_and_audits(nurse: User, patient: Patient) -> None:
    m = add(nurse, patient)
    m.refresh_from_db()
    assert (m.rxcui, m.ingredient, m.route, m.dose, m.unit, m.doses_per_day) == (
        "7804", "oxycodone", "oral", Decimal("10.000"), "mg", Decimal("2.00"),
    )  # fmt: skip
    ev = AuditEvent.objects.get(action="pain.opioid_add")
    assert (ev.actor_id, ev.patient_id, ev.detail["dose"], ev.detail["rxcui"]) == (
        nurse.pk,
        patient.pk,
        "10",
        "7804",
    )
    assert selectors.current_load(patient).total_mme_per_day == 30


def test_patch_ignores_doses_per_day_and_route_synonym_is_normalised(nurse: User, patient: Patient) -> None:
    m = add(nurse, patient, rxcui="4337", route="patch", dose="25", unit="mcg/h", doses_per_day="3")
    assert (m.route, m.doses_per_day) == ("transdermal", None)
    assert selectors.current_load(patient).total_mme_per_day == 60


@pytest.mark.parametrize(
    ("kw", "field", "fragment"),
    [
        ({"rxcui": "9999"}, "ingredient", "choose an opioid"),
        ({"dose": ""}, "dose", "required"),
        ({"dose": "abc"}, "dose", "not a number"),
        ({"dose": "-5"}, "dose", "greater than 0"),
        ({"doses_per_day": ""}, "doses_per_day", "required"),
        ({"doses_per_day": "30"}, "doses_per_day", "more than 24"),
        ({"unit": "g"}, "unit", "mg per dose"),
        ({"unit": "mcg/h"}, "unit", "patch strength"),
        ({"rxcui": "4337", "route": "transdermal", "unit": "mg"}, "unit", "mcg/h"),
        ({"route": "teleport"}, "route", "unknown route"),
        ({"started_on": ""}, "started_on", "required"),
        ({"started_on": "2026-13-40"}, "started_on", "date"),
    ],
)
def test_bad_line_refused_nothing_stored(
    nurse: User, patient: Patient, kw: dict[str, Any], field: str, fragment: str
) -> None:
    refused(lambda: add(nurse, patient, **kw), field, fragment)


def test_future_start_refused(nurse: User, patient: Patient) -> None:
    refused(lambda: add(nurse, patient, started_on=today() + dt.timedelta(days=1)), "started_on", "future")


def test_front_desk_and_other_clinic_refused(
    make_user: Any, other_clinic: Any, front_desk: User, patient: Patient
) -> None:
    before = snapshot()
    with pytest.raises(PermissionDeniedError):
        add(front_desk, patient)
    outsider = make_user("nurse", clinic=other_clinic)
    with pytest.raises(NotFoundError):
        add(outsider, patient)
    assert snapshot() == before


def test_taper_step_stops_the_line_and_starts_a_new_one(
    nurse: User, prescriber: User, patient: Patient
) -> None:
    course(patient, prescriber, started=days_ago(100))
    m = add(nurse, patient, dose="20", started_on=days_ago(120))  # 60 MME
    new = actions.do_change_opioid_dose(
        actor=nurse, medication_id=m.pk, dose="15", doses_per_day="2", changed_on=days_ago(80)
    )
    m.refresh_from_db()
    assert (m.stopped_on, m.stop_reason, new.replaces_id, new.started_on) == (
        days_ago(80),
        "dose changed",
        m.pk,
        days_ago(80),
    )
    s = selectors.pain_summary(patient)
    assert s.baseline_day == days_ago(100)
    assert s.baseline is not None and s.baseline.total == 60
    four = dict(s.changes)[4]
    assert four is not None and (four.at.total, four.pct_change) == (45, Decimal("-25.0"))
    assert s.load.total_mme_per_day == 45
    # a PEG visit between the steps adds a point at that day's load
    from ketaclinic.web.assessments.actions import do_record_assessment

    when = timezone.make_aware(dt.datetime.combine(days_ago(50), dt.time(10, 0)))
    do_record_assessment(
        actor=nurse,
        patient_id=patient.pk,
        instrument_id="peg",
        answers=[5, 5, 4],
        context="follow_up",
        assessed_at=when,
    )
    assert [(p.day, p.total) for p in selectors.pain_summary(patient).visits] == [(days_ago(50), 45)]
    # the same dose again, a change day before the start, and a stopped line are refused
    refused(
        lambda: actions.do_change_opioid_dose(
            actor=nurse, medication_id=new.pk, dose="15", doses_per_day="2", changed_on=today()
        ),
        "dose",
        "same",
    )
    refused(
        lambda: actions.do_change_opioid_dose(
            actor=nurse, medication_id=new.pk, dose="10", doses_per_day="2", changed_on=days_ago(90)
        ),
        "changed_on",
        "after the start",
    )
    with pytest.raises(ConflictError):
        actions.do_change_opioid_dose(
            actor=nurse, medication_id=m.pk, dose="5", doses_per_day="2", changed_on=today()
        )


def test_stop_needs_a_reason_and_a_day_after_the_start(nurse: User, patient: Patient) -> None:
    m = add(nurse, patient, started_on=days_ago(10))
    refused(
        lambda: actions.do_stop_opioid_medication(
            actor=nurse, medication_id=m.pk, stopped_on=today(), reason=" "
        ),
        "reason",
        "required",
    )
    refused(
        lambda: actions.do_stop_opioid_medication(
            actor=nurse, medication_id=m.pk, stopped_on=days_ago(10), reason="x"
        ),
        "stopped_on",
        "after the start",
    )
    actions.do_stop_opioid_medication(
        actor=nurse, medication_id=m.pk, stopped_on=today(), reason="tapered off"
    )
    assert selectors.current_load(patient).total_mme_per_day == 0
    with pytest.raises(ConflictError):
        actions.do_stop_opioid_medication(actor=nurse, medication_id=m.pk, stopped_on=today(), reason="again")


def _screening(patient: Patient, by: User, codes: list[str]) -> None:
    from ketaclinic.web.screening.models import ScreeningRun

    ScreeningRun.objects.create(
        patient=patient, decision="eligible", ruleset_version="t", on=today(), route="iv", trigger="test",
        result={"findings": [{"code": c, "level": "caution", "message": f"{c} message"} for c in codes]},
        created_by=by, created_at=timezone.now(),
    )  # fmt: skip


def test_benzodiazepine_overdose_history_and_naloxone_offer(nurse: User, patient: Patient) -> None:
    add(nurse, patient, rxcui="10689", dose="50", doses_per_day="2")  # tramadol 20 MME
    assert selectors.current_load(patient).finding_codes == ()
    _screening(patient, nurse, ["benzodiazepine_use", "cns_depressant_use"])
    assert selectors.current_load(patient).finding_codes == ("naloxone_offer", "benzodiazepine_with_opioid")
    assert selectors.cns_caution(patient) == "cns_depressant_use message"
    actions.do_set_overdose_history(actor=nurse, patient_id=patient.pk, overdose_history=True)
    assert OpioidRiskFactors.objects.get(patient=patient).overdose_history is True
    assert "history of overdose" in selectors.current_load(patient).findings[0].message
    refused(
        lambda: actions.do_record_naloxone_offer(actor=nurse, patient_id=patient.pk, outcome="maybe"),
        "outcome",
    )
    assert selectors.pain_summary(patient).naloxone_offer is None
    actions.do_record_naloxone_offer(actor=nurse, patient_id=patient.pk, outcome="accepted")
    offer = selectors.pain_summary(patient).naloxone_offer
    assert offer is not None and offer.outcome == "accepted"
    NaloxoneOffer.objects.update(offered_at=timezone.now() - dt.timedelta(days=366))
    assert selectors.pain_summary(patient).naloxone_offer is None  # older than 12 months: prompt again


def test_pain_indication_only_on_a_chronic_pain_course(
    prescriber: User, nurse: User, patient: Patient
) -> None:
    pain = course(patient, prescriber)
    depression = course(patient, prescriber, indication="trd")
    refused(
        lambda: actions.do_set_pain_indication(actor=prescriber, course_id=depression.pk, kind="crps"),
        "course",
    )
    refused(
        lambda: actions.do_set_pain_indication(actor=prescriber, course_id=pain.pk, kind="other"),
        "detail",
        "say which",
    )
    refused(lambda: actions.do_set_pain_indication(actor=prescriber, course_id=pain.pk, kind="gout"), "kind")
    with pytest.raises(PermissionDeniedError):
        actions.do_set_pain_indication(actor=nurse, course_id=pain.pk, kind="crps")
    row = actions.do_set_pain_indication(actor=prescriber, course_id=pain.pk, kind="crps")
    row = actions.do_set_pain_indication(actor=prescriber, course_id=pain.pk, kind="fibromyalgia")
    assert (CoursePainIndication.objects.count(), row.kind) == (1, "fibromyalgia")
    assert AuditEvent.objects.filter(action="pain.indication_set").count() == 2


def _session(patient: Patient, c: Any, status: str = "checked_in") -> Any:
    from ketaclinic.web.treatment.models import DosingSession

    return DosingSession.objects.create(
        clinic=patient.clinic, patient=patient, course=c, status=status, scheduled_for=timezone.now()
    )


def test_last_opioid_dose_before_the_infusion(
    nurse: User, prescriber: User, front_desk: User, patient: Patient
) -> None:
    c = course(patient, prescriber)
    s = _session(patient, c)
    m = add(nurse, patient)
    refused(
        lambda: actions.do_record_last_opioid_dose(
            actor=nurse, session_id=s.pk, medication_id=None, taken_at=None
        ),
        "medication",
    )
    refused(
        lambda: actions.do_record_last_opioid_dose(
            actor=nurse, session_id=s.pk, medication_id=m.pk, taken_at=timezone.now() + dt.timedelta(hours=2)
        ),
        "taken_at",
        "future",
    )
    with pytest.raises(PermissionDeniedError):
        actions.do_record_last_opioid_dose(
            actor=front_desk, session_id=s.pk, medication_id=None, taken_at=None, none_today=True
        )
    taken = timezone.now() - dt.timedelta(hours=3)
    row = actions.do_record_last_opioid_dose(actor=nurse, session_id=s.pk, medication_id=m.pk, taken_at=taken)
    assert (row.medication_id, row.taken_at, selectors.last_opioid_dose(s)) == (m.pk, taken, row)
    s.status = "dosing"
    s.save(update_fields=["status"])
    with pytest.raises(ConflictError):
        actions.do_record_last_opioid_dose(
            actor=nurse, session_id=s.pk, medication_id=None, taken_at=None, none_today=True
        )


def test_run_sheet_shows_the_opioid_load_and_last_dose(
    nurse: User, prescriber: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    c = course(patient, prescriber)
    s = _session(patient, c)
    add(nurse, patient, rxcui="6813", dose="10", doses_per_day="3")  # methadone 141 MME
    _screening(patient, nurse, ["cns_depressant_use"])
    html = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content.decode()
    assert 'id="opioid-panel"' in html
    assert "<strong>141</strong>" in html
    assert "cns_depressant_use message" in html
    assert "not recorded" in html
    r = client_as(nurse).post(
        f"/pain/sessions/{s.pk}/last-opioid-dose", {"medication": "", "none_today": "on"}, follow=True
    )
    assert "none in the last 24 hours" in r.content.decode()


def test_chart_tab_renders_load_warnings_list_and_chart(
    nurse: User, prescriber: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    course(patient, prescriber, started=days_ago(100))
    add(nurse, patient, dose="20", started_on=days_ago(120))  # 60 MME
    add(
        nurse, patient, rxcui="1819", route="sublingual", dose="2", doses_per_day="1", started_on=days_ago(30)
    )
    r = client_as(nurse).get(f"/pain/patients/{patient.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "At least 60" in html  # buprenorphine makes the total a lower bound
    assert "not convertible" in html and 'id="naloxone-prompt"' in html
    assert 'class="pain-chart"' in html and 'data-mme="60"' in html
    assert "snake" not in html and "mcg/h" not in html.split("<form")[0]


def test_chart_form_errors_name_the_field_and_store_nothing(
    nurse: User, patient: Patient, client_as: Callable[[User], Client]
) -> None:
    before = snapshot()
    r = client_as(nurse).post(
        f"/pain/patients/{patient.pk}/opioids",
        {
            "ingredient": "7804",
            "route": "oral",
            "dose": "",
            "unit": "mg",
            "doses_per_day": "2",
            "started_on": str(today()),
        },
    )
    assert r.status_code == 400
    assert "Nothing was saved" in r.content.decode() and "Dose" in r.content.decode()
    assert snapshot()[:1] == before[:1]


def test_clinic_share_with_its_denominator(
    nurse: User, prescriber: User, patient: Patient, clinic: Any, client_as: Callable[[User], Client]
) -> None:
    def pain_patient(mrn: str) -> Patient:
        p = Patient.objects.create(
            clinic=clinic,
            mrn=mrn,
            given_name="P",
            family_name=mrn,
            birth_date=dt.date(1980, 1, 1),
            sex_at_birth="male",
        )
        course(p, prescriber, started=days_ago(60))
        return p

    tapered, steady, none = pain_patient("A"), pain_patient("B"), pain_patient("C")
    m = add(nurse, tapered, dose="20", started_on=days_ago(90))
    actions.do_change_opioid_dose(
        actor=nurse, medication_id=m.pk, dose="10", doses_per_day="2", changed_on=days_ago(20)
    )
    add(nurse, steady, started_on=days_ago(90))
    del none
    share, rows = selectors.clinic_sparing(clinic)
    assert (share.numerator, share.denominator, share.no_opioid_at_baseline, share.incomplete_load) == (
        1,
        2,
        1,
        0,
    )
    assert [r.patient.family_name for r in rows] == ["A", "B", "C"]
    html = client_as(prescriber).get("/pain/").content.decode()
    assert "1 of 2" in html and "50.0 %" in html
    assert AuditEvent.objects.filter(action="pain.cohort_view").count() == 1


def test_load_words() -> None:
    from ketaclinic.web.pain.views import load_words

    assert [load_words(Decimal(t), c) for t, c in (("60.00", True), ("28.80", False), ("0.00", False), ("0", True))] == [
        "60", "at least 28.8", "not convertible", "0",
    ]  # fmt: skip


def test_patient_answers_the_peg_through_a_remote_link(nurse: User, patient: Patient) -> None:
    from ketaclinic.web.assessments import actions as assessment_actions

    _, url = assessment_actions.do_create_remote_link(actor=nurse, patient_id=patient.pk, instrument_id="peg")
    token = url.rstrip("/").rsplit("/", 1)[1]
    page = Client().get(url)
    assert page.status_code == 200
    assert "Average pain in the past week" in page.content.decode()
    a = assessment_actions.do_submit_remote_answers(token=token, answers=[6, 5, 5])
    a.refresh_from_db()
    assert (a.source, a.total, a.instrument_id) == ("remote", 5.33, "peg")
