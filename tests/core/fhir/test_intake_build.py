"""The intake resource builders make exactly the resources the intake parser reads back."""

from __future__ import annotations

import datetime as dt

from ketaclinic.core.fhir.intake import build, parse_bundle

AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_blood_pressure_panel_is_loinc_coded_in_mm_hg() -> None:
    assert build.blood_pressure_panel(resource_id="bp-1", systolic=150, diastolic=95, effective=AT) == {
        "resourceType": "Observation",
        "id": "bp-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": "2026-03-01T09:30:00+00:00",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {
                    "value": 150,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {
                    "value": 95,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        ],
    }


def test_a_built_bundle_parses_into_the_same_facts() -> None:
    resources = [
        build.condition(
            resource_id="c-1",
            system_uri="http://hl7.org/fhir/sid/icd-10-cm",
            code="F32.2",
            clinical_status="active",
            verification_status="confirmed",
            onset="2025-01-10",
        ),
        build.medication_statement(resource_id="m-1", status="active", rxnorm="36437", name="sertraline"),
        build.allergy_intolerance(resource_id="a-1", clinical_status="active", name="latex"),
        build.blood_pressure_panel(resource_id="bp-1", systolic=150, diastolic=95, effective=AT),
        build.pregnancy_status(resource_id="ps-1", pregnant=False, effective=AT),
    ]
    weight = build.body_weight(resource_id="weight-7", patient_id=42, measured_at=AT, weight_kg=81.5)
    bundle = build.intake_bundle(42, dt.date(1980, 5, 17), resources, [weight])
    assert [e["resource"]["id"] for e in bundle["entry"]] == [
        "kc-42",
        "c-1",
        "m-1",
        "a-1",
        "bp-1",
        "ps-1",
        "weight-7",
    ]
    assert bundle["entry"][3]["resource"]["patient"] == {"reference": "Patient/kc-42"}
    assert bundle["entry"][1]["resource"]["subject"] == {"reference": "Patient/kc-42"}
    assert "subject" not in resources[0]  # the stored resource is not changed
    intake = parse_bundle(bundle)
    assert intake.problems == ()
    assert [(c.icd10cm, c.clinical_status) for c in intake.conditions] == [(("F32.2",), "active")]
    assert [(b.systolic, b.diastolic) for b in intake.blood_pressures] == [(150.0, 95.0)]
    assert [w.kg for w in intake.weights] == [81.5]
    assert [p.pregnant for p in intake.pregnancy_statuses] == [False]
    assert len(intake.medications) == 1 and len(intake.allergies) == 1
