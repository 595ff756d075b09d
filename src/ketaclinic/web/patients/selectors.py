"""Reads of the patient registry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.core.fhir.patient import PatientDemographics, patient_resource
from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.web.access import patients_visible_to
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.patients.models import Patient

MRN_SYSTEM_BASE = "urn:ketaclinic:clinic:"


def patient_search(*, user: Any, clinic: Clinic | None, query: str = "") -> QuerySet[Patient]:
    """Patients of `clinic` visible to `user`, filtered by name, MRN or birth date (YYYY-MM-DD)."""
    qs = patients_visible_to(user, clinic=clinic).select_related("home_site")
    query = query.strip()
    if not query:
        return qs
    try:
        born = dt.date.fromisoformat(query)
    except ValueError:
        born = None
    if born is not None:
        return qs.filter(birth_date=born)
    cond = Q()
    for term in query.replace(",", " ").split():
        cond &= Q(given_name__icontains=term) | Q(family_name__icontains=term) | Q(mrn__iexact=term)
    return qs.filter(cond)


def patient_fhir(patient: Patient) -> dict[str, Any]:
    """The patient as a FHIR R4 Patient resource, validated with fhir.resources (R4B models)."""
    demo = PatientDemographics(
        id=str(patient.pk),
        mrn=patient.mrn,
        mrn_system=f"{MRN_SYSTEM_BASE}{patient.clinic.slug}:mrn",
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        sex_at_birth=patient.sex_at_birth,
        phone=patient.phone,
        email=patient.email,
        address_line=patient.address_line,
        city=patient.city,
        postal_code=patient.postal_code,
        emergency_contact_name=patient.emergency_contact_name,
        emergency_contact_phone=patient.emergency_contact_phone,
        emergency_contact_relationship=patient.emergency_contact_relationship,
        managing_organization=patient.clinic.name,
        last_updated=patient.updated_at,
    )
    return require_valid(patient_resource(demo))
