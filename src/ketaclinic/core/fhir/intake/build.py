"""Build the FHIR R4 intake resources the screening engine reads: the patient, coded conditions, medication
statements, allergies, blood-pressure panels, pregnancy status and body weight, and the Bundle of them.

Pure dict builders: the caller validates the values (and names the offending field) before calling them, and
chooses each resource's id. Codes: LOINC 85354-9 blood-pressure panel (8480-6 systolic, 8462-4 diastolic) in
UCUM mm[Hg]; LOINC 82810-3 pregnancy status answered with SNOMED CT 77386006 (pregnant) or 60001007 (not
pregnant); LOINC 29463-7 body weight in kg.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ketaclinic.core.terminology import LOINC, RXNORM, SNOMED, UCUM


def patient_reference(patient_id: int) -> dict[str, str]:
    return {"reference": f"Patient/kc-{patient_id}"}


def patient_resource(patient_id: int, birth_date: dt.date) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"kc-{patient_id}", "birthDate": birth_date.isoformat()}


def status_concept(system: str, code: str) -> dict[str, Any]:
    """A status CodeableConcept from an HL7 terminology code system (`condition-clinical`, ...)."""
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]}


def condition(
    *,
    resource_id: str,
    system_uri: str,
    code: str,
    clinical_status: str,
    verification_status: str,
    text: str = "",
    onset: str | None = None,
    abatement: str | None = None,
) -> dict[str, Any]:
    """A coded Condition; `onset` and `abatement` are ISO dates (or None)."""
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": resource_id,
        "clinicalStatus": status_concept("condition-clinical", clinical_status),
        "verificationStatus": status_concept("condition-ver-status", verification_status),
        "code": {
            "coding": [{"system": system_uri, "code": code}],
            **({"text": text} if text else {}),
        },
    }
    if onset:
        resource["onsetDateTime"] = onset
    if abatement:
        resource["abatementDateTime"] = abatement
    return resource


def medication_statement(
    *,
    resource_id: str,
    status: str,
    rxnorm: str = "",
    name: str = "",
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """A MedicationStatement coded by RxNorm and/or named; `start` and `end` are ISO dates (or None)."""
    concept: dict[str, Any] = {}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
    if name:
        concept["text"] = name
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": resource_id,
        "status": status,
        "medicationCodeableConcept": concept,
    }
    if start or end:
        resource["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return resource


def allergy_intolerance(
    *, resource_id: str, clinical_status: str, rxnorm: str = "", snomed: str = "", name: str = ""
) -> dict[str, Any]:
    """An AllergyIntolerance coded by RxNorm and/or SNOMED CT substance, and/or named."""
    codings = []
    if rxnorm:
        codings.append({"system": RXNORM, "code": rxnorm})
    if snomed:
        codings.append({"system": SNOMED, "code": snomed})
    concept: dict[str, Any] = {"coding": codings} if codings else {}
    if name:
        concept["text"] = name
    return {
        "resourceType": "AllergyIntolerance",
        "id": resource_id,
        "clinicalStatus": status_concept("allergyintolerance-clinical", clinical_status),
        "code": concept,
    }


def _mmhg(loinc: str, value: int) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
    }


def blood_pressure_panel(
    *, resource_id: str, systolic: int, diastolic: int, effective: dt.datetime
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": effective.isoformat(),
        "component": [_mmhg("8480-6", systolic), _mmhg("8462-4", diastolic)],
    }


def pregnancy_status(*, resource_id: str, pregnant: bool, effective: dt.datetime) -> dict[str, Any]:
    answer = {"system": SNOMED, "code": "77386006" if pregnant else "60001007"}
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "effectiveDateTime": effective.isoformat(),
        "valueCodeableConcept": {"coding": [answer]},
    }


def body_weight(
    *, resource_id: str, patient_id: int, measured_at: dt.datetime, weight_kg: float
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
        "subject": patient_reference(patient_id),
        "effectiveDateTime": measured_at.isoformat(),
        "valueQuantity": {"value": weight_kg, "unit": "kg", "system": UCUM, "code": "kg"},
    }


def intake_bundle(
    patient_id: int,
    birth_date: dt.date,
    resources: Iterable[Mapping[str, Any]],
    observations: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A collection Bundle: the Patient, then each stored intake resource pointed at the patient (an
    AllergyIntolerance by `patient`, others by `subject`; a Medication names no patient), then `observations`
    (already pointed at the patient, e.g. body weights)."""
    entries: list[dict[str, Any]] = [{"resource": patient_resource(patient_id, birth_date)}]
    for stored in resources:
        res = dict(stored)
        if res.get("resourceType") != "Medication":
            key = "patient" if res.get("resourceType") == "AllergyIntolerance" else "subject"
            res[key] = patient_reference(patient_id)
        entries.append({"resource": res})
    entries.extend({"resource": o} for o in observations)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
