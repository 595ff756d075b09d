"""Bad input: malformed bundles exit with named issues; unreadable elements become findings, never a silent eligible."""

from __future__ import annotations

import copy

import pytest
from screening_helpers import ICD, ON, bundle, codes, condition, finding, med, patient, run

from ketaclinic.core.fhir.intake import BundleError, parse_bundle
from ketaclinic.core.screening import screen_bundle


def issues(doc: object) -> list[str]:
    with pytest.raises(BundleError) as exc:
        parse_bundle(doc)
    return [str(i) for i in exc.value.issues]


def test_not_a_bundle() -> None:
    assert issues([1, 2]) == ["Bundle: $: the document must be a JSON object (a FHIR Bundle)"]
    assert issues({"resourceType": "Patient"}) == ["Bundle: resourceType: must be 'Bundle', got 'Patient'"]
    assert issues({"resourceType": "Bundle", "type": "collection", "entry": {}}) == [
        "Bundle: Bundle.entry: must be a list of entries"
    ]


def test_patient_count() -> None:
    assert issues(bundle(condition("c1", "I10"), with_patient=False)) == [
        "Bundle: Bundle.entry: no Patient resource: the intake bundle needs exactly one"
    ]
    two = bundle(patient(), patient(pid="p2"))
    assert issues(two) == [
        "Bundle: Bundle.entry: 2 Patient resources (Patient/p1, Patient/p2): exactly one is required"
    ]


def test_structural_errors_name_resource_and_field() -> None:
    bad_date = condition("c1", "I71.2", onsetDateTime="2025-13-40")
    no_status = {
        "resourceType": "Observation",
        "id": "o1",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
    }
    got = issues(bundle(bad_date, no_status))
    assert got[0].startswith("Condition/c1: Condition.onsetDateTime: ")
    assert got[1] == "Observation/o1: Observation.status: Value for the field 'status' is required."
    assert len(got) == 2


def test_entry_without_resource_and_resource_about_another_patient() -> None:
    doc = bundle(condition("c1", "I71.2"))
    doc["entry"].append({"fullUrl": "urn:uuid:1"})
    other = condition("c2", "I10")
    other["subject"] = {"reference": "Patient/someone-else"}
    doc["entry"].append({"resource": other})
    with pytest.raises(BundleError) as exc:
        parse_bundle(doc)
    assert [str(i) for i in exc.value.issues] == [
        "Bundle.entry[4]: Bundle.entry[4].resource: missing: every entry must carry a resource"
    ]
    doc["entry"].pop(4)
    assert issues(doc) == [
        "Condition/c2: Condition.subject.reference: 'Patient/someone-else' is not the bundle's Patient (Patient/p1)"
    ]


def test_missing_subject_is_tolerated_in_a_single_patient_bundle() -> None:
    c = condition("c1", "F20.0")
    del c["subject"]
    assert codes(run(c)) == ["psychotic_disorder"]


def test_full_url_references_are_accepted() -> None:
    doc = bundle(condition("c1", "F20.0"))
    doc["entry"][0]["fullUrl"] = "urn:uuid:7c5f6a0e-0000-4000-8000-000000000001"
    doc["entry"][1]["resource"]["subject"] = {"reference": "urn:uuid:7c5f6a0e-0000-4000-8000-000000000001"}
    assert [f.code for f in screen_bundle(doc, on=ON).findings] == ["psychotic_disorder"]


def test_condition_without_code_is_unrecognized_not_eligible() -> None:
    c = condition("c1", "I10")
    del c["code"]
    r = run(c)
    assert r.decision == "needs_review"
    assert finding(r, "unrecognized_code") == {
        "code": "unrecognized_code",
        "level": "relative",
        "message": "An intake element cannot be screened: Condition/c1: Condition.code: missing: the condition cannot be screened without a code",
        "evidence": ["Condition/c1"],
        "source": finding(r, "unrecognized_code")["source"],
    }


def test_unknown_code_system_is_unrecognized() -> None:
    r = run(condition("c1", "F20", system="http://hl7.org/fhir/sid/icd-10"))
    assert codes(r) == ["unrecognized_code"] and r.decision == "needs_review"
    assert finding(r, "unrecognized_code")["message"] == (
        "An intake element cannot be screened: Condition/c1: Condition.code.coding[0].system: "
        "'http://hl7.org/fhir/sid/icd-10' is not a supported code system "
        "(ICD-10-CM http://hl7.org/fhir/sid/icd-10-cm, SNOMED CT http://snomed.info/sct)"
    )


def test_unknown_system_beside_a_known_coding_is_fine() -> None:
    c = condition("c1", "F20.0")
    c["code"]["coding"].insert(0, {"system": "http://example.org/local", "code": "SCZ"})
    assert codes(run(c)) == ["psychotic_disorder"]


def test_invalid_icd10cm_code_and_text_only_condition() -> None:
    r = run(condition("c1", "I71.99"), {**condition("c2", "x"), "code": {"text": "aortic aneurysm"}})
    f = finding(r, "unrecognized_code")
    assert f["evidence"] == ["Condition/c1", "Condition/c2"]
    assert "Condition/c1: Condition.code.coding[0].code: 'I71.99' is not an ICD-10-CM code" in f["message"]
    assert "Condition/c2: Condition.code.coding: no coding: text alone cannot be screened" in f["message"]


def test_unreadable_entered_in_error_condition_is_ignored() -> None:
    c = condition("c1", "I10", verification="entered-in-error")
    del c["code"]
    assert run(c).decision == "eligible"


def test_medication_without_code_or_name_is_unrecognized() -> None:
    m = med("m1")
    r = run(m)
    assert codes(r) == ["unrecognized_code"]
    assert (
        "MedicationStatement/m1: MedicationStatement.medication[x]: no RxNorm code and no name"
        in finding(r, "unrecognized_code")["message"]
    )


def test_unresolvable_medication_reference() -> None:
    m = med("m1")
    del m["medicationCodeableConcept"]
    m["medicationReference"] = {"reference": "Medication/nowhere"}
    r = run(m)
    assert codes(r) == ["unrecognized_code"]
    assert finding(r, "unrecognized_code")["evidence"] == ["MedicationStatement/m1"]


def test_parsing_does_not_modify_the_input() -> None:
    doc = bundle(condition("c1", "i714", onsetDateTime="2020"), med("m1", text="Xanax"))
    before = copy.deepcopy(doc)
    screen_bundle(doc, on=ON)
    assert doc == before


def test_resource_without_id_uses_full_url_or_entry_index() -> None:
    c = condition("c1", "F20.0")
    del c["id"]
    doc = bundle(c)
    r = screen_bundle(doc, on=ON)
    assert r.findings[0].evidence == ("Bundle.entry[1]",)
    doc["entry"][1]["fullUrl"] = "urn:uuid:abc"
    assert screen_bundle(doc, on=ON).findings[0].evidence == ("urn:uuid:abc",)


def test_other_resource_types_are_ignored() -> None:
    enc = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    }
    intake = parse_bundle(bundle(enc, condition("c1", "I10", system=ICD)))
    assert "Encounter/e1" in intake.ignored
    assert codes(run(enc)) == []
