"""Builders for small FHIR R4 intake bundles used by the screening tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from ketaclinic.core.screening import ScreeningResult, screen_bundle

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ON = date(2025, 6, 15)
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def patient(birth: str | None = "1980-05-01", pid: str = "p1") -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if birth is not None:
        res["birthDate"] = birth
    return res


def condition(
    cid: str,
    code: str,
    system: str = ICD,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    **extra: Any,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if clinical is not None:
        res["clinicalStatus"] = {"coding": [{"system": CLIN, "code": clinical}]}
    if verification is not None:
        res["verificationStatus"] = {"coding": [{"system": VER, "code": verification}]}
    res.update(extra)
    return res


def bp(
    oid: str, systolic: float, diastolic: float, when: str = "2025-06-10", **quantity: Any
) -> dict[str, Any]:
    q = {"unit": "mmHg", "system": UCUM, "code": "mm[Hg]"} | quantity
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": when,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": systolic, **q},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": diastolic, **q},
            },
        ],
    }


def single(oid: str, loinc: str, value: float, when: str = "2025-06-10", **quantity: Any) -> dict[str, Any]:
    q = {"unit": "mmHg", "system": UCUM, "code": "mm[Hg]"} | quantity
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, **{k: v for k, v in q.items() if v is not None}},
    }


def weight(oid: str, kg: float, when: str = "2025-06-10", code: str = "kg") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": kg, "unit": code, "system": UCUM, "code": code},
    }


def med(
    mid: str, *, code: str | None = None, text: str | None = None, status: str = "active", **extra: Any
) -> dict[str, Any]:
    cc: dict[str, Any] = {}
    if code is not None:
        cc["coding"] = [{"system": RX, "code": code}]
    if text is not None:
        cc["text"] = text
    res = {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": cc,
    }
    res.update(extra)
    return res


def allergy(
    aid: str,
    *,
    system: str = RX,
    code: str | None = "6130",
    text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
) -> dict[str, Any]:
    cc: dict[str, Any] = {}
    if code is not None:
        cc["coding"] = [{"system": system, "code": code}]
    if text is not None:
        cc["text"] = text
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": aid,
        "patient": {"reference": "Patient/p1"},
        "code": cc,
    }
    if clinical is not None:
        res["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": clinical,
                }
            ]
        }
    if verification is not None:
        res["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": verification,
                }
            ]
        }
    return res


def bundle(*resources: dict[str, Any], with_patient: bool = True, vitals: bool = True) -> dict[str, Any]:
    """A collection bundle; by default adds Patient/p1 (adult), a normal BP and a weight so only the rule under test fires."""
    res = list(resources)
    if with_patient and not any(r["resourceType"] == "Patient" for r in res):
        res.insert(0, patient())
    if vitals:
        loincs = {
            c.get("code")
            for r in res
            if r["resourceType"] == "Observation"
            for c in r["code"].get("coding", [])
        }
        if not loincs & {"85354-9", "8480-6", "8462-4"}:
            res.append(bp("bp-normal", 120, 78))
        if "29463-7" not in loincs:
            res.append(weight("wt-normal", 70))
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in res]}


def run(*resources: dict[str, Any], on: date = ON, route: str = "iv", **kw: Any) -> ScreeningResult:
    return screen_bundle(bundle(*resources, **kw), on=on, route=route)  # type: ignore[arg-type]


def codes(result: ScreeningResult) -> list[str]:
    return [f.code for f in result.findings]


def finding(result: ScreeningResult, code: str) -> dict[str, Any]:
    for f in result.findings:
        if f.code == code:
            return f.to_dict()
    raise AssertionError(f"{code} not in {codes(result)}")
