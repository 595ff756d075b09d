"""Map patient demographics to a FHIR R4 Patient resource (pure; validated by the caller with validate.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

# FHIR administrative-gender has no "intersex": it maps to "other" (http://hl7.org/fhir/R4/valueset-administrative-gender.html).
_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}
MRN_TYPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR",
            "display": "Medical record number",
        }
    ]
}


@dataclass(frozen=True, slots=True)
class PatientDemographics:
    id: str
    mrn: str
    mrn_system: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex_at_birth: str
    phone: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    postal_code: str = ""
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    emergency_contact_relationship: str = ""
    managing_organization: str = ""
    last_updated: dt.datetime | None = None


def patient_resource(p: PatientDemographics) -> dict[str, Any]:
    """Build a FHIR R4 Patient. Sex at birth goes to `gender` (closest R4 element) and the US Core birthsex
    extension is not used, so the resource stays valid outside the US."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p.id,
        "identifier": [{"use": "usual", "type": MRN_TYPE, "system": p.mrn_system, "value": p.mrn}],
        "active": True,
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
        "gender": _GENDER.get(p.sex_at_birth, "unknown"),
        "birthDate": p.birth_date.isoformat(),
    }
    if p.last_updated is not None:
        resource["meta"] = {"lastUpdated": p.last_updated.isoformat()}
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    if telecom:
        resource["telecom"] = telecom
    if p.address_line or p.city or p.postal_code:
        address: dict[str, Any] = {"use": "home"}
        if p.address_line:
            address["line"] = [p.address_line]
        if p.city:
            address["city"] = p.city
        if p.postal_code:
            address["postalCode"] = p.postal_code
        resource["address"] = [address]
    if p.emergency_contact_name:
        contact: dict[str, Any] = {
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                            "code": "C",
                            "display": "Emergency Contact",
                        }
                    ],
                    **(
                        {"text": p.emergency_contact_relationship} if p.emergency_contact_relationship else {}
                    ),
                }
            ],
            "name": {"text": p.emergency_contact_name},
        }
        if p.emergency_contact_phone:
            contact["telecom"] = [{"system": "phone", "value": p.emergency_contact_phone}]
        resource["contact"] = [contact]
    if p.managing_organization:
        resource["managingOrganization"] = {"display": p.managing_organization}
    return resource
