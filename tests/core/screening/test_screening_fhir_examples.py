"""Official HL7 FHIR R4 example resources (small faithful copies in fixtures/) parsed and screened end to end.

Copied from the R4 specification's examples: Patient/example, Observation/blood-pressure, Observation/body-weight,
Condition/stroke, AllergyIntolerance/example and MedicationStatement/example001. The only change: every subject
points at Patient/example (the spec's examples refer to several different example patients).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from ketaclinic.core.fhir.intake import parse_bundle
from ketaclinic.core.screening import screen_bundle

FIXTURE = Path(__file__).parent / "fixtures" / "hl7-r4-examples.json"


def load() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_examples_parse_into_exact_facts() -> None:
    intake = parse_bundle(load())
    assert intake.patient.ref == "Patient/example" and intake.patient.birth_date is not None
    assert intake.patient.birth_date.earliest == date(1974, 12, 25)
    [bp] = intake.blood_pressures
    assert (bp.refs, bp.systolic, bp.diastolic, bp.when.text) == (
        ("Observation/blood-pressure",),
        107.0,
        60.0,
        "2012-09-17",
    )
    [w] = intake.weights
    assert (w.ref, round(w.kg, 4)) == ("Observation/body-weight", 83.9146)
    [c] = intake.conditions
    assert (c.ref, c.snomed, c.clinical_status, c.text) == (
        "Condition/stroke",
        ("422504002",),
        "active",
        "Stroke / Ischemic stroke (disorder)",
    )
    [a] = intake.allergies
    assert a.codes == (
        ("http://snomed.info/sct", "227493005"),
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "1160593"),
    )
    [m] = intake.medications
    assert (m.ref, m.rxnorm, m.names, m.status) == (
        "MedicationStatement/example001",
        (),
        ("Tylenol PM",),
        "active",
    )
    assert intake.problems == ()


def test_examples_screened_on_the_day_of_the_blood_pressure() -> None:
    r = screen_bundle(load(), on=date(2012, 9, 17), route="intranasal")
    assert r.to_contract() == {"decision": "eligible", "findings": [], "ruleset": "2026.1.0"}


def test_examples_screened_later_need_fresh_vitals() -> None:
    r = screen_bundle(load(), on=date(2016, 4, 1), route="iv")
    assert [(f.code, f.level, f.evidence) for f in r.findings] == [
        ("blood_pressure_missing", "relative", ("Observation/blood-pressure",)),
    ]
    assert r.decision == "needs_review"
    r = screen_bundle(load(), on=date(2016, 5, 1), route="im")
    assert [(f.code, f.evidence) for f in r.findings] == [
        ("blood_pressure_missing", ("Observation/blood-pressure",)),
        ("weight_missing", ("Observation/body-weight",)),
    ]
