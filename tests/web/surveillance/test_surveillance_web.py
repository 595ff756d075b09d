"""Long-term safety in the web: lab results (entered, imported), the Safety tab, alerts and decisions, the
clinic watch list, clinic settings, FHIR export, banners on the chart and the run sheet; refusals change nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.surveillance import actions, selectors
from ketaclinic.web.surveillance.demo import seed_dose_history
from ketaclinic.web.surveillance.models import ClinicSurveillanceSettings, LabResult, SurveillanceDecision

pytestmark = pytest.mark.django_db


def _ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def _doses(patient: Any, prescriber: Any, nurse: Any, days_ago: list[int], mg: str = "35") -> None:
    seed_dose_history(
        patient, prescriber=prescriber, nurse=nurse, doses=[(_ago(d), Decimal(mg)) for d in days_ago]
    )


def _snapshot() -> tuple[int, int, int, int]:
    return (
        LabResult.objects.count(),
        SurveillanceDecision.objects.count(),
        ClinicSurveillanceSettings.objects.count(),
        AuditEvent.objects.count(),
    )


# ------------------------------------------------------------------------------------------ lab results


def test_staff_record_alt_above_range_as_a_valid_fhir_observation(nurse: Any, patient: Any) -> None:
    lab = actions.do_record_lab_result(
        actor=nurse,
        patient_id=patient.pk,
        loinc="1742-6",
        value="130",
        unit="U/L",
        reference_high="40",
        taken_at=_ago(1),
    )
    assert (lab.loinc, lab.value_number, lab.unit, lab.reference_high, lab.source) == (
        "1742-6",
        Decimal("130"),
        "U/L",
        Decimal("40"),
        "staff",
    )
    obs = lab.fhir_observation
    assert validate_resource(obs) == []
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "1742-6", "display": "ALT"}
    assert obs["valueQuantity"]["value"] == 130
    assert obs["interpretation"][0]["coding"][0]["code"] == "H"
    ev = AuditEvent.objects.get(action="lab_result.record")
    assert (ev.patient_id, ev.detail) == (patient.pk, {"loinc": "1742-6", "value": "130"})


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"loinc": "2345-7", "value": "5"}, {"loinc"}),
        ({"loinc": "5794-3", "value": "lots"}, {"value"}),
        ({"loinc": "1742-6", "value": "abc", "unit": "U/L"}, {"value"}),
        ({"loinc": "1742-6", "value": "50", "unit": "mg"}, {"unit"}),
        ({"loinc": "1742-6", "value": "50", "reference_high": "0"}, {"reference_high"}),
        (
            {"loinc": "1742-6", "value": "50", "reference_low": "60", "reference_high": "40"},
            {"reference_low"},
        ),
        ({"loinc": "5794-3", "value": "negative", "reference_high": "3"}, {"reference_high"}),
    ],
)
def test_bad_lab_input_names_every_field_and_stores_nothing(
    nurse: Any, patient: Any, kwargs: dict[str, Any], fields: set[str]
) -> None:
    before = _snapshot()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_lab_result(actor=nurse, patient_id=patient.pk, taken_at=_ago(1), **kwargs)
    assert set(exc.value.fields) == fields
    assert _snapshot() == before


def test_lab_in_the_future_or_by_front_desk_is_refused(nurse: Any, front_desk: Any, patient: Any) -> None:
    before = _snapshot()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_lab_result(
            actor=nurse, patient_id=patient.pk, loinc="5794-3", value="negative", taken_at=_ago(-1)
        )
    assert exc.value.fields == {"taken_at": ["must not be in the future"]}
    with pytest.raises(PermissionDeniedError):
        actions.do_record_lab_result(
            actor=front_desk, patient_id=patient.pk, loinc="5794-3", value="negative", taken_at=_ago(1)
        )
    assert _snapshot() == before


def _bundle(*observations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in observations]}


def _obs(code: str, when: dt.datetime, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": when.isoformat(),
        **value,
    }


def test_fhir_bundle_import_reads_supported_lab_observations(nurse: Any, patient: Any) -> None:
    bundle = _bundle(
        _obs("1920-8", _ago(2), valueQuantity={"value": 150, "unit": "U/L", "code": "U/L"},
             referenceRange=[{"high": {"value": 35, "unit": "U/L"}}]),
        _obs("5794-3", _ago(2), valueString="1+"),
        _obs("2345-7", _ago(2), valueQuantity={"value": 5.1, "unit": "mmol/L"}),  # glucose: not read
        {"resourceType": "Patient", "id": "x"},
    )  # fmt: skip
    labs = actions.do_import_lab_bundle(actor=nurse, patient_id=patient.pk, bundle=bundle)
    assert [(lab.loinc, lab.value_number, lab.value_text, lab.source) for lab in labs] == [
        ("1920-8", Decimal("150"), "", "fhir_import"),
        ("5794-3", None, "1+", "fhir_import"),
    ]
    assert AuditEvent.objects.get(action="lab_result.import").detail == {"results": [lab.pk for lab in labs]}


def test_fhir_bundle_with_any_bad_observation_imports_nothing(nurse: Any, patient: Any) -> None:
    bundle = _bundle(
        _obs("1742-6", _ago(2), valueQuantity={"value": 30, "unit": "U/L"}),
        _obs("1742-6", _ago(2), valueQuantity={"value": "high", "unit": "U/L"}),
        _obs("5794-3", _ago(2).replace(tzinfo=None), valueString="negative"),
    )
    before = _snapshot()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_import_lab_bundle(actor=nurse, patient_id=patient.pk, bundle=bundle)
    assert exc.value.fields == {
        "entry[1].resource.valueQuantity.value": ["must be a number"],
        "entry[2].resource.effectiveDateTime": ["must be a date-time with a time zone"],
    }
    assert _snapshot() == before
    with pytest.raises(ValidationFailed) as exc2:
        actions.do_import_lab_bundle(actor=nurse, patient_id=patient.pk, bundle={"resourceType": "Patient"})
    assert exc2.value.fields == {"$": ["must be a FHIR Bundle (resourceType Bundle)"]}


# ------------------------------------------------------------------------------------------ evaluation


def _bladder_patient(patient: Any, prescriber: Any, nurse: Any) -> None:
    _doses(patient, prescriber, nurse, [40, 30, 20, 10])
    do_record_assessment(
        actor=nurse,
        patient_id=patient.pk,
        instrument_id="bpic-ss",
        answers=[4, 4, 3, 3, 2, 2, 1, 3],
        context="follow_up",
        assessed_at=_ago(5),
    )
    actions.do_record_lab_result(
        actor=nurse, patient_id=patient.pk, loinc="5794-3", value="2+", taken_at=_ago(5)
    )


def test_records_drive_the_engine(prescriber: Any, nurse: Any, patient: Any) -> None:
    _bladder_patient(patient, prescriber, nurse)
    ev = selectors.evaluate_patient(patient)
    assert ev.result.exposure.sessions == 4
    assert ev.result.exposure.total_mg == 140.0
    assert ev.result.exposure.total_mg_per_kg == 2.0  # 70 kg
    assert [f.code for f in ev.open_alerts] == ["bladder_symptoms", "haematuria"]
    lab = LabResult.objects.get()
    assert ev.open_alerts[1].evidence == (f"Observation/lab-{lab.pk}",)
    # SDS and cognition never done: overdue since the first dose
    assert {f.code for f in ev.overdue} == {"dependence_screen_overdue", "cognition_screen_overdue"}


def test_prescriber_decision_closes_the_alert_and_is_audited(
    prescriber: Any, nurse: Any, patient: Any
) -> None:
    _bladder_patient(patient, prescriber, nurse)
    d = actions.do_record_surveillance_decision(
        actor=prescriber,
        patient_id=patient.pk,
        alert_code="haematuria",
        decision="refer_urology",
        reason="2+ blood twice; urology for cystoscopy",
    )
    assert (d.alert_code, d.decision, d.decided_by) == ("haematuria", "refer_urology", prescriber)
    assert d.alert_message.startswith("Urine dipstick positive for blood (2+)")
    assert [f.code for f in selectors.evaluate_patient(patient).open_alerts] == ["bladder_symptoms"]
    ev = AuditEvent.objects.get(action="surveillance_decision.record")
    assert ev.detail["decision"] == "refer_urology" and ev.detail["alert"] == "haematuria"
    # a new positive dipstick is a new alert
    actions.do_record_lab_result(
        actor=nurse, patient_id=patient.pk, loinc="5794-3", value="3+", taken_at=_ago(1)
    )
    assert [f.code for f in selectors.evaluate_patient(patient).open_alerts] == [
        "bladder_symptoms",
        "haematuria",
    ]


def test_decision_refusals_change_nothing(prescriber: Any, nurse: Any, patient: Any) -> None:
    _bladder_patient(patient, prescriber, nurse)
    before = _snapshot()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_surveillance_decision(
            actor=prescriber, patient_id=patient.pk, alert_code="nope", decision="stop", reason=" "
        )
    assert set(exc.value.fields) == {"alert_code", "decision", "reason"}
    with pytest.raises(PermissionDeniedError):
        actions.do_record_surveillance_decision(
            actor=nurse, patient_id=patient.pk, alert_code="haematuria", decision="continue", reason="fine"
        )
    with pytest.raises(ConflictError):
        actions.do_record_surveillance_decision(
            actor=prescriber,
            patient_id=patient.pk,
            alert_code="liver_enzymes_raised",
            decision="pause",
            reason="x",
        )
    assert _snapshot() == before


# ------------------------------------------------------------------------------------------ settings


def test_clinic_override_changes_the_schedule_for_its_protocol(
    admin_user: Any, prescriber: Any, nurse: Any, patient: Any, clinic: Any
) -> None:
    _doses(patient, prescriber, nurse, [40, 30])
    do_record_assessment(
        actor=nurse, patient_id=patient.pk, instrument_id="sds", answers=[1, 1, 0, 0, 0],
        context="follow_up", assessed_at=_ago(40),
    )  # fmt: skip
    assert selectors.evaluate_patient(patient).result.has("dependence_signal") is False
    row = actions.do_set_surveillance_settings(
        actor=admin_user,
        clinic_id=clinic.pk,
        protocol_id="iv-racemic-depression",
        overrides={"alerts": {"dependence_signal": {"total_at_least": 2}}},
    )
    ev = selectors.evaluate_patient(patient)
    assert ev.overridden is True
    assert [f.code for f in ev.open_alerts] == ["dependence_signal"]
    assert AuditEvent.objects.get(action="surveillance_settings.update").detail["after"] == row.overrides
    before = _snapshot()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_set_surveillance_settings(
            actor=admin_user, clinic_id=clinic.pk, protocol_id="", overrides={"items": {"x": {}}}
        )
    assert list(exc.value.fields) == ["items.x"]
    with pytest.raises(PermissionDeniedError):
        actions.do_set_surveillance_settings(
            actor=prescriber, clinic_id=clinic.pk, protocol_id="", overrides={}
        )
    assert _snapshot() == before


# ------------------------------------------------------------------------------------------ pages


def test_safety_tab_shows_schedule_alerts_labs_and_is_audited(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    _bladder_patient(patient, prescriber, nurse)
    r = client_as(prescriber).get(f"/safety/patient/{patient.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-alert="bladder_symptoms" data-open="1"' in html
    assert 'data-alert="haematuria" data-open="1"' in html
    assert 'data-item="dependence_screen" data-status="overdue"' in html
    assert 'data-item="liver_enzymes" data-status="not_due_yet"' in html
    assert "Refer to urology" in html and "above range" not in html
    assert '<span class="badge danger">abnormal</span>' in html
    assert "4 sessions, 140 mg in total (2.00 mg/kg at the current weight)" in html
    assert 'id="safety-trend-bpic-ss"' in html and 'id="safety-trend-sds"' not in html
    # people read words: the tab's visible text carries no snake_case codes
    tab = html.split('id="safety-tab"', 1)[1]
    visible = re.sub(r"<[^>]*>", " ", tab)
    assert re.findall(r"\b[a-z]+_[a-z_]+\b", visible) == []
    assert AuditEvent.objects.filter(action="patient.view", patient=patient).count() == 1


def test_safety_tab_post_forms_flash_field_labels(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    c = client_as(nurse)
    r = c.post(
        f"/safety/patient/{patient.pk}/labs/", {"loinc": "1742-6", "value": "x", "unit": "U/L"}, follow=True
    )
    assert "Result: must be a number" in r.content.decode()
    r = c.post(
        f"/safety/patient/{patient.pk}/labs/",
        {
            "loinc": "1742-6",
            "value": "45",
            "unit": "U/L",
            "reference_high": "40",
            "taken_at": "2026-01-02T09:30",
        },
        follow=True,
    )
    assert "ALT result saved." in r.content.decode()
    lab = LabResult.objects.get()
    assert lab.taken_at == timezone.make_aware(dt.datetime(2026, 1, 2, 9, 30))
    assert "above range" in r.content.decode()
    upload = SimpleUploadedFile("b.json", b"{not json", content_type="application/json")
    r = c.post(f"/safety/patient/{patient.pk}/labs/import/", {"bundle": upload}, follow=True)
    assert "FHIR bundle: not valid JSON" in r.content.decode()
    assert LabResult.objects.count() == 1


def test_decision_through_the_page(prescriber: Any, nurse: Any, patient: Any, client_as: Any) -> None:
    _bladder_patient(patient, prescriber, nurse)
    c = client_as(prescriber)
    r = c.post(
        f"/safety/patient/{patient.pk}/decide/",
        {"alert_code": "bladder_symptoms", "decision": "refer_urology", "reason": "BPIC-SS 22"},
        follow=True,
    )
    html = r.content.decode()
    assert "Decision recorded." in html
    assert 'data-alert="bladder_symptoms" data-open="0"' in html
    assert "<strong>Refer to urology</strong> on bladder symptoms: BPIC-SS 22" in html


def test_clinic_watchlist_lists_alerting_and_overdue_patients_only(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any, clinic: Any, site: Any
) -> None:
    from ketaclinic.web.patients.models import Patient, WeightMeasurement

    _bladder_patient(patient, prescriber, nurse)
    quiet = Patient.objects.create(
        clinic=clinic, home_site=site, mrn="MRN-2", given_name="Sam", family_name="Quiet",
        birth_date=dt.date(1980, 1, 1), sex_at_birth="male",
    )  # fmt: skip
    WeightMeasurement.objects.create(patient=quiet, weight_kg=Decimal("80"), measured_at=_ago(50))
    _doses(quiet, prescriber, nurse, [5])
    for iid, answers in (("bpic-ss", [0] * 8), ("sds", [0] * 5), ("cognition", [29])):
        do_record_assessment(
            actor=nurse, patient_id=quiet.pk, instrument_id=iid, answers=answers, context="baseline",
            assessed_at=_ago(6),
        )  # fmt: skip
    actions.do_record_lab_result(
        actor=nurse, patient_id=quiet.pk, loinc="5794-3", value="negative", taken_at=_ago(6)
    )
    r = client_as(prescriber).get("/safety/")
    html = r.content.decode()
    assert r.status_code == 200
    assert f'data-patient="{patient.pk}"' in html and f'data-patient="{quiet.pk}"' not in html
    assert "Blood in the urine" in html and "Severity of Dependence Scale (SDS)" in html
    ev = AuditEvent.objects.get(action="surveillance.watchlist_view")
    assert ev.detail == {"patients": [patient.pk], "tasks": []}


def test_banners_on_chart_and_run_sheet(prescriber: Any, nurse: Any, patient: Any, client_as: Any) -> None:
    _bladder_patient(patient, prescriber, nurse)
    html = client_as(nurse).get(f"/patients/{patient.pk}/").content.decode()
    assert "Safety alert: Blood in the urine." in html
    session = patient.dosing_sessions.first()
    html = client_as(nurse).get(f"/treatment/sessions/{session.pk}/").content.decode()
    assert 'id="session-banners"' in html and "Safety alert: Bladder symptoms." in html


def test_fhir_export_bundle_is_valid_and_audited(
    prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    _bladder_patient(patient, prescriber, nurse)
    r = client_as(prescriber).get(f"/safety/patient/{patient.pk}/fhir/")
    assert r.status_code == 200 and r["Content-Type"] == "application/fhir+json"
    bundle = json.loads(r.content)
    assert validate_resource(bundle) == []
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == ["Observation", "QuestionnaireResponse"] or types[:2] == [
        "Observation",
        "QuestionnaireResponse",
    ]
    assert AuditEvent.objects.filter(action="surveillance.export_fhir", patient=patient).count() == 1


def test_other_clinic_cannot_see_or_write(
    make_user: Any, other_clinic: Any, patient: Any, client_as: Any
) -> None:
    outsider = make_user("prescriber", clinic=other_clinic)
    assert client_as(outsider).get(f"/safety/patient/{patient.pk}/").status_code == 404
    before = _snapshot()
    r = client_as(outsider).post(
        f"/safety/patient/{patient.pk}/labs/", {"loinc": "5794-3", "value": "negative"}
    )
    assert r.status_code == 302 and _snapshot() == before
    assert client_as(outsider).get("/safety/").content.count(b"data-patient=") == 0


def test_settings_page_saves_changed_numbers_only(admin_user: Any, client_as: Any, clinic: Any) -> None:
    c = client_as(admin_user)
    assert c.get("/safety/settings/").status_code == 200
    r = c.post(
        "/safety/settings/",
        {
            "protocol_id": "",
            "on_treatment_days": "90",
            "interval_bladder_screen": "60",
            "alert_dependence_signal": "4",
        },
        follow=True,
    )
    assert "Surveillance schedule saved." in r.content.decode()
    row = ClinicSurveillanceSettings.objects.get(clinic=clinic, protocol_id="")
    assert row.overrides == {
        "items": {"bladder_screen": {"interval_days": 60}},
        "alerts": {"dependence_signal": {"total_at_least": 4}},
    }
    r = c.post("/safety/settings/", {"protocol_id": "", "interval_urinalysis": "0"}, follow=True)
    assert "items.urinalysis.interval_days: must be between 1 and 3650" in r.content.decode()
    assert ClinicSurveillanceSettings.objects.get(clinic=clinic, protocol_id="").overrides == row.overrides


# ------------------------------------------------------------------------------------------ API


def test_api_evaluation_and_lab_entry(prescriber: Any, nurse: Any, patient: Any, client_as: Any) -> None:
    _bladder_patient(patient, prescriber, nurse)
    c = client_as(nurse)
    r = c.get(f"/api/v1/surveillance/patients/{patient.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["exposure"]["sessions"] == 4
    assert body["open_alerts"] == ["bladder_symptoms", "haematuria"]
    assert {"code": "liver_enzymes", "status": "not_due_yet", "due_date": None, "last_day": None} in body[
        "items"
    ]
    assert AuditEvent.objects.filter(action="surveillance.view", patient=patient).count() == 1
    r = c.post(
        f"/api/v1/surveillance/patients/{patient.pk}/labs",
        {
            "loinc": "1920-8",
            "value": 20,
            "unit": "U/L",
            "reference_high": 35,
            "taken_at": _ago(1).isoformat(),
        },
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["observation"]["valueQuantity"]["value"] == 20
    before = _snapshot()
    r = c.post(
        f"/api/v1/surveillance/patients/{patient.pk}/labs",
        {"loinc": "1920-8", "value": "x", "taken_at": _ago(1).isoformat()},
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"value": ["must be a number"]}
    r = c.post(
        f"/api/v1/surveillance/patients/{patient.pk}/labs/bundle",
        {"resourceType": "Bundle", "type": "collection", "entry": []},
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"bundle": ["contains no urine dipstick, ALT or AST Observation"]}
    assert _snapshot() == before


def test_watchlist_queries_do_not_grow_with_patients(
    prescriber: Any, nurse: Any, patient: Any, clinic: Any, site: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ketaclinic.web.patients.models import Patient, WeightMeasurement

    _bladder_patient(patient, prescriber, nurse)
    with CaptureQueriesContext(connection) as one:
        assert len(selectors.clinic_watchlist(clinic)) == 1
    for k in range(3):
        p = Patient.objects.create(
            clinic=clinic, home_site=site, mrn=f"MRN-Q{k}", given_name="Q", family_name=f"Q{k}",
            birth_date=dt.date(1980, 1, 1), sex_at_birth="male",
        )  # fmt: skip
        WeightMeasurement.objects.create(patient=p, weight_kg=Decimal("80"), measured_at=_ago(60))
        _bladder_patient(p, prescriber, nurse)
    with CaptureQueriesContext(connection) as four:
        assert len(selectors.clinic_watchlist(clinic)) == 4
    # patients, doses, questionnaires, labs, weights, courses, booked sessions, clinic settings, decisions
    assert len(four.captured_queries) == len(one.captured_queries) == 9
