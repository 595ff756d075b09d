"""Patient endpoints under /api/v1/patients/."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, access_patient_by_id, user_clinic_ids
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.patients import actions, selectors

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: int
    clinic_id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex_at_birth: str
    phone: str
    email: str
    address_line: str
    city: str
    postal_code: str
    emergency_contact_name: str
    emergency_contact_phone: str
    emergency_contact_relationship: str
    referring_clinician: str
    referring_clinician_contact: str
    version: int
    updated_at: dt.datetime


class PatientIn(Schema):
    clinic_id: int | None = Field(None, description="Required when you belong to more than one clinic.")
    mrn: str
    given_name: str
    family_name: str
    birth_date: str = Field(..., description="YYYY-MM-DD")
    sex_at_birth: str = Field(..., description="female, male, intersex or unknown")
    phone: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    postal_code: str = ""
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    emergency_contact_relationship: str = ""
    referring_clinician: str = ""
    referring_clinician_contact: str = ""


class PatientPatch(Schema):
    mrn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: str | None = None
    sex_at_birth: str | None = None
    phone: str | None = None
    email: str | None = None
    address_line: str | None = None
    city: str | None = None
    postal_code: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_phone: str | None = None
    emergency_contact_relationship: str | None = None
    referring_clinician: str | None = None
    referring_clinician_contact: str | None = None


class WeightIn(Schema):
    weight_kg: Decimal
    measured_at: dt.datetime | None = None


class WeightOut(Schema):
    id: int
    weight_kg: Decimal
    measured_at: dt.datetime
    source: str


class VersionOut(Schema):
    version: int
    changed_fields: list[str]
    changed_at: dt.datetime
    changed_by: str | None

    @staticmethod
    def resolve_changed_by(obj: Any) -> str | None:
        return obj.changed_by.username if obj.changed_by else None


@router.get("/", response={200: list[PatientOut], **READ_ERRORS})
def list_patients(
    request: SignedInRequest, q: str = "", clinic_id: int | None = None, limit: int = 50, offset: int = 0
) -> Any:
    """Search patients (name, MRN or birth date) in one clinic or all your clinics."""
    if limit < 1 or limit > 200:
        raise ValidationFailed({"limit": ["must be between 1 and 200"]})
    clinic = access_clinic_by_id(request.user, clinic_id, perm=Perm.PATIENT_VIEW) if clinic_id else None
    rows = list(selectors.patient_search(user=request.user, clinic=clinic, query=q)[offset : offset + limit])
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.PATIENT_SEARCH,
            clinic=clinic,
            request=request,
            detail={"query": q[:100], "results": len(rows), "via": "api"},
        )
    return rows


def _clinic_for_create(request: SignedInRequest, clinic_id: int | None) -> Any:
    if clinic_id is None:
        ids = user_clinic_ids(request.user)
        if len(ids) != 1:
            raise ValidationFailed({"clinic_id": ["is required when you belong to more than one clinic"]})
        clinic_id = ids[0]
    return access_clinic_by_id(request.user, clinic_id)


@router.post("/", response={201: PatientOut, **WRITE_ERRORS})
def create_patient(request: SignedInRequest, payload: PatientIn) -> Any:
    data = payload.dict()
    clinic = _clinic_for_create(request, data.pop("clinic_id"))
    return Status(
        201, actions.do_create_patient(actor=request.user, clinic=clinic, values=data, request=request)
    )


@router.get("/{patient_id}", response={200: PatientOut, **READ_ERRORS})
def get_patient(request: SignedInRequest, patient_id: int) -> Any:
    return access_patient_by_id(request.user, patient_id, perm=Perm.PATIENT_VIEW, request=request)


@router.patch("/{patient_id}", response={200: PatientOut, **WRITE_ERRORS})
def update_patient(request: SignedInRequest, patient_id: int, payload: PatientPatch) -> Any:
    values = payload.dict(exclude_unset=True)
    return actions.do_update_patient(
        actor=request.user, patient_id=patient_id, values=values, request=request
    )


@router.get("/{patient_id}/history", response={200: list[VersionOut], **READ_ERRORS})
def patient_history(request: SignedInRequest, patient_id: int) -> Any:
    patient = access_patient_by_id(request.user, patient_id, perm=Perm.PATIENT_VIEW, request=request)
    return list(patient.versions.select_related("changed_by").order_by("version"))


@router.get("/{patient_id}/weights", response={200: list[WeightOut], **READ_ERRORS})
def list_weights(request: SignedInRequest, patient_id: int) -> Any:
    patient = access_patient_by_id(request.user, patient_id, perm=Perm.CLINICAL_VIEW, request=request)
    return list(patient.weights.all())


@router.post("/{patient_id}/weights", response={201: WeightOut, **WRITE_ERRORS})
def add_weight(request: SignedInRequest, patient_id: int, payload: WeightIn) -> Any:
    return Status(
        201,
        actions.do_record_weight(
            actor=request.user,
            patient_id=patient_id,
            weight_kg=payload.weight_kg,
            measured_at=payload.measured_at,
            request=request,
        ),
    )


@router.get("/{patient_id}/fhir", response={200: dict[str, Any], **READ_ERRORS}, summary="FHIR R4 Patient")
def patient_fhir(request: SignedInRequest, patient_id: int) -> Any:
    patient = access_patient_by_id(
        request.user, patient_id, request=request, audit_action=AuditAction.PATIENT_EXPORT_FHIR
    )
    return HttpResponse(json.dumps(selectors.patient_fhir(patient)), content_type="application/fhir+json")
