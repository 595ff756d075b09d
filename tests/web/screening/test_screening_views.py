"""Screening HTML forms: each intake form stores and re-screens on a valid post; an invalid post re-renders the tab
(400) with the field's error and the values entered, and stores nothing. Withdrawing an intake item needs a reason,
is audited, shown on the chart and re-screens."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.patients.models import WeightMeasurement
from ketaclinic.web.screening import actions, selectors
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        IntakeItem.objects.count(),
        ScreeningRun.objects.count(),
        WeightMeasurement.objects.count(),
        AuditEvent.objects.exclude(action="patient.view").count(),
    )


def url(patient: Any, tail: str) -> str:
    return f"/screening/patients/{patient.pk}/{tail}"


def field_error(html: str, form: str, name: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{form}-{name}">([^<]*)</p>', html)
    assert m, f"no error shown for {form}-{name}"
    return m.group(1)


def input_value(html: str, form: str, name: str) -> str:
    m = re.search(rf'id="{form}-{name}" name="{name}" type="[a-z]+" value="([^"]*)"', html)
    assert m, f"no input {form}-{name}"
    return m.group(1)


def test_condition_form_valid_stores_and_rescreens(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    before = counts()
    r = c.post(
        url(patient, "conditions"),
        {
            "system": "icd10cm",
            "code": "h409",
            "text": "Glaucoma",
            "clinical_status": "active",
            "verification_status": "confirmed",
            "onset": "2020-03-01",
            "abatement": "",
        },
    )
    assert r.status_code == 302 and r["Location"] == url(patient, "")
    item = IntakeItem.objects.get()
    assert item.kind == "Condition" and item.source == "form" and item.recorded_by == nurse
    assert item.resource["code"]["coding"] == [
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "H40.9"}
    ]
    assert item.resource["onsetDateTime"] == "2020-03-01"
    run = selectors.screening_latest(patient)
    assert run is not None and run.trigger == "intake:Condition"
    assert [f["code"] for f in run.findings] == ["blood_pressure_missing", "raised_intraocular_pressure"]
    assert counts()[:2] == (before[0] + 1, before[1] + 1)
    html = c.get(r["Location"]).content.decode()
    assert "Condition recorded; screening re-run." in html


def test_condition_form_invalid_shows_field_errors_keeps_values_stores_nothing(
    client_as: Any, nurse: Any, patient: Any
) -> None:
    before = counts()
    r = client_as(nurse).post(
        url(patient, "conditions"),
        {"system": "icd10cm", "code": "I71.99", "clinical_status": "active", "onset": "2999-01-01"},
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert field_error(html, "condition", "code") == "&#x27;I71.99&#x27; is not an ICD-10-CM code"
    assert field_error(html, "condition", "onset") == "cannot be in the future"
    assert input_value(html, "condition", "code") == "I71.99"
    assert 'aria-invalid="true" aria-describedby="err-condition-code"' in html
    assert "Nothing was saved." in html
    assert counts() == before


def test_medication_form_valid_and_invalid(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    before = counts()
    r = c.post(url(patient, "medications"), {"rxnorm": "12x", "name": "", "status": "active"})
    assert r.status_code == 400
    assert field_error(r.content.decode(), "medication", "rxnorm") == "an RxNorm code is digits only"
    assert counts() == before
    r = c.post(url(patient, "medications"), {"rxnorm": "8123", "name": "phenelzine", "status": "active"})
    assert r.status_code == 302
    item = IntakeItem.objects.get()
    assert item.resource["medicationCodeableConcept"] == {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8123"}],
        "text": "phenelzine",
    }
    run = selectors.screening_latest(patient)
    assert [f["code"] for f in run.findings] == ["blood_pressure_missing", "maoi_use"]


def test_allergy_form_valid_and_invalid(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    before = counts()
    r = c.post(
        url(patient, "allergies"), {"rxnorm": "", "snomed": "", "name": "", "clinical_status": "active"}
    )
    assert r.status_code == 400
    assert field_error(r.content.decode(), "allergy", "name") == "give a code or the substance name"
    assert counts() == before
    r = c.post(url(patient, "allergies"), {"rxnorm": "6130", "name": "ketamine", "clinical_status": "active"})
    assert r.status_code == 302
    run = selectors.screening_latest(patient)
    assert run.decision == "ineligible"
    assert [f["code"] for f in run.findings] == ["hypersensitivity", "blood_pressure_missing"]
    assert run.findings[0]["evidence"] == [f"AllergyIntolerance/{IntakeItem.objects.get().resource['id']}"]


def test_vitals_form_is_all_or_nothing_with_one_rescreen(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    before = counts()
    # A valid blood pressure with a bad weight: neither is stored.
    r = c.post(
        url(patient, "vitals"), {"systolic": "150", "diastolic": "95", "weight_kg": "heavy", "pregnancy": ""}
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert field_error(html, "vitals", "weight_kg") == "must be a number of kilograms"
    assert input_value(html, "vitals", "systolic") == "150"
    assert counts() == before
    r = c.post(url(patient, "vitals"), {"systolic": "150", "diastolic": "", "weight_kg": "", "pregnancy": ""})
    assert r.status_code == 400
    assert field_error(r.content.decode(), "vitals", "diastolic") == "must be a whole number of mmHg"
    assert counts() == before
    r = c.post(url(patient, "vitals"), {"systolic": "", "diastolic": "", "weight_kg": "", "pregnancy": ""})
    assert r.status_code == 400
    assert "enter a blood pressure, a weight or a pregnancy status" in r.content.decode()
    assert counts() == before
    # Everything at once: two intake items, one weight, ONE screening run.
    r = c.post(
        url(patient, "vitals"),
        {"systolic": "150", "diastolic": "95", "weight_kg": "71.5", "pregnancy": "not_pregnant"},
    )
    assert r.status_code == 302
    assert sorted(IntakeItem.objects.values_list("summary", flat=True)) == [
        "BP 150/95 mm[Hg]",
        "not pregnant",
    ]
    assert WeightMeasurement.objects.count() == before[2] + 1
    assert ScreeningRun.objects.count() == before[1] + 1
    run = selectors.screening_latest(patient)
    assert run.trigger == "intake:vitals" and [f["code"] for f in run.findings] == ["elevated_blood_pressure"]


def test_import_form_valid_and_invalid(client_as: Any, nurse: Any, patient: Any) -> None:
    c = client_as(nurse)
    before = counts()
    r = c.post(
        url(patient, "import"), {"bundle": SimpleUploadedFile("b.json", b"{not json", "application/json")}
    )
    assert r.status_code == 400
    assert "not a JSON file" in r.content.decode() and "Nothing was saved." in r.content.decode()
    assert counts() == before
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": patient.birth_date.isoformat()}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E05.90"}]},
                }
            },
        ],
    }
    r = c.post(
        url(patient, "import"),
        {"bundle": SimpleUploadedFile("b.json", json.dumps(bundle).encode(), "application/fhir+json")},
    )
    assert r.status_code == 302
    assert IntakeItem.objects.get().source == "import"
    run = selectors.screening_latest(patient)
    assert run.trigger == "import"
    assert [f["code"] for f in run.findings] == ["blood_pressure_missing", "hyperthyroidism"]
    assert run.findings[1]["evidence"] == ["Condition/c1"]


def test_finding_shows_its_evidence_source_on_the_chart(client_as: Any, nurse: Any, patient: Any) -> None:
    actions.do_record_blood_pressure(actor=nurse, patient_id=patient.pk, systolic=150, diastolic=95)
    item = IntakeItem.objects.get()
    html = client_as(nurse).get(url(patient, "")).content.decode()
    row = html[html.index('<tr data-code="elevated_blood_pressure">') :]
    row = row[: row.index("</tr>")]
    assert f"<code>Observation/{item.resource['id']}</code>: BP 150/95 mmHg (form, Nurse" in row
    assert "SPRAVATO PI: baseline BP elevated" in row


def test_withdraw_item_needs_reason_is_audited_shown_and_rescreens(
    client_as: Any, nurse: Any, front_desk: Any, patient: Any
) -> None:
    actions.do_record_condition(
        actor=nurse, patient_id=patient.pk, system="icd10cm", code="F20.9", clinical_status="active"
    )
    item = IntakeItem.objects.get()
    assert selectors.screening_latest(patient).decision == "ineligible"
    c = client_as(nurse)
    withdraw = url(patient, f"intake/{item.pk}/withdraw")
    before = counts()
    r = c.post(withdraw, {"reason": "  "})
    assert r.status_code == 400
    assert field_error(r.content.decode(), f"withdraw-{item.pk}", "reason") == (
        "required: say why the item is withdrawn"
    )
    assert counts() == before
    item.refresh_from_db()
    assert item.retracted_at is None
    # Someone without intake rights is refused, nothing changes.
    r = client_as(front_desk).post(withdraw, {"reason": "Entered for the wrong patient."})
    assert r.status_code in (302, 403) and counts() == before
    item.refresh_from_db()
    assert item.retracted_at is None
    r = c.post(withdraw, {"reason": "Entered for the wrong patient."})
    assert r.status_code == 302
    item.refresh_from_db()
    assert (item.retracted_by, item.retraction_reason) == (nurse, "Entered for the wrong patient.")
    audit = AuditEvent.objects.get(action="screening.intake_retract")
    assert audit.detail == {
        "reason": "Entered for the wrong patient.",
        "summary": item.summary,
        "kind": "Condition",
    }
    run = selectors.screening_latest(patient)
    assert run.trigger == "intake:retract" and "psychotic_disorder" not in [f["code"] for f in run.findings]
    assert ScreeningRun.objects.count() == before[1] + 1
    html = c.get(url(patient, "")).content.decode()
    assert (
        '<span class="badge">withdrawn</span> by Nurse' in html and "“Entered for the wrong patient.”" in html
    )
    # Withdrawing it again: refused, nothing changes.
    before = counts()
    r = c.post(withdraw, {"reason": "Again, by mistake."})
    assert r.status_code == 302 and counts() == before
    assert "Nothing was saved: no such intake item" in c.get(url(patient, "")).content.decode()


@pytest.mark.parametrize(
    ("code", "finding", "label"),
    [
        ("O99.342", "pregnancy", "Active pregnancy"),
        ("S06.340S", "intracranial_hemorrhage_history", "History of intracerebral haemorrhage"),
        ("F12.259", "substance_induced_psychosis", "Substance- or medication-induced psychotic disorder"),
        ("N30.10", "bladder_disease", "Interstitial cystitis / bladder pain syndrome"),
    ],
)
def test_new_safety_findings_through_the_chart_read_as_words(
    client_as: Any, nurse: Any, patient: Any, code: str, finding: str, label: str
) -> None:
    c = client_as(nurse)
    r = c.post(
        url(patient, "conditions"),
        {"system": "icd10cm", "code": code, "clinical_status": "active", "verification_status": "confirmed"},
    )
    assert r.status_code == 302
    run = selectors.screening_latest(patient)
    assert finding in [f["code"] for f in run.findings]
    html = c.get(url(patient, "")).content.decode()
    row = html[html.index(f'<tr data-code="{finding}">') :]
    row = row[: row.index("</tr>")]
    assert f'<td title="{finding}">{label}' in row
    assert "Absolute contraindication" in row or "Needs prescriber review" in row


def test_cns_depressant_medication_through_the_chart_is_a_caution(
    client_as: Any, nurse: Any, patient: Any
) -> None:
    r = client_as(nurse).post(url(patient, "medications"), {"name": "oxycodone", "status": "active"})
    assert r.status_code == 302
    run = selectors.screening_latest(patient)
    assert [(f["code"], f["level"]) for f in run.findings if f["code"] == "cns_depressant_use"] == [
        ("cns_depressant_use", "caution")
    ]
