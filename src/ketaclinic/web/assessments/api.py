"""API router of the assessments app (mounted at /api/v1/assessments/): create and list assessments, FHIR."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.questionnaire import build_questionnaire
from ketaclinic.core.instruments import INSTRUMENT_IDS, load_instrument
from ketaclinic.web.access import access_assessment_by_id, access_patient_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.assessments import actions, selectors
from ketaclinic.web.assessments.models import Assessment, Source
from ketaclinic.web.lib.api_errors import PUBLIC_READ_ERRORS, READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed

router = Router(tags=["assessments"])


class AssessmentIn(Schema):
    instrument: str
    answers: list[int | None]
    context: str
    assessed_at: dt.datetime


@router.post("/patients/{patient_id}/assessments", response={201: dict[str, Any], **WRITE_ERRORS})
def create_assessment(
    request: SignedInRequest, patient_id: int, payload: AssessmentIn
) -> Status[dict[str, Any]]:
    a = actions.do_record_assessment(
        actor=request.user,
        patient_id=patient_id,
        instrument_id=payload.instrument,
        answers=payload.answers,
        context=payload.context,
        assessed_at=payload.assessed_at,
        source=Source.API,
        request=request,
    )
    return Status(201, {**selectors.assessment_json(a), "alert_raised": hasattr(a, "suicide_alert")})


#: Page size of the assessments list: default and largest allowed.
PAGE_DEFAULT, PAGE_MAX = 100, 500


@router.get("/patients/{patient_id}/assessments", response={200: dict[str, Any], **READ_ERRORS})
def list_assessments(
    request: SignedInRequest, patient_id: int, instrument: str | None = None, limit: int = PAGE_DEFAULT,
    offset: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """A patient's assessments, newest first, one page at a time (`limit` up to 500, `offset`)."""
    errors: dict[str, list[str]] = {}
    if not 1 <= limit <= PAGE_MAX:
        errors["limit"] = [f"must be between 1 and {PAGE_MAX}"]
    if offset < 0:
        errors["offset"] = ["must be 0 or more"]
    if errors:
        raise ValidationFailed(errors)
    patient = access_patient_by_id(
        request.user, patient_id, perm=Perm.CLINICAL_VIEW, request=request, audit_action=None
    )
    qs = selectors.assessments_for_patient(patient, instrument_id=instrument)
    total = qs.count()
    rows = list(qs[offset : offset + limit])
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.ASSESSMENT_LIST,
            obj=patient,
            request=request,
            detail={"instrument": instrument, "offset": offset, "returned": len(rows)},
        )
    nxt = offset + len(rows)
    return {
        "patient_id": patient.pk,
        "count": total,
        "offset": offset,
        "limit": limit,
        "next_offset": nxt if nxt < total else None,
        "assessments": [selectors.assessment_json(a) for a in rows],
        "unacknowledged_suicide_alert": selectors.has_unacknowledged_suicide_alert(patient),
    }


@router.get("/assessments/{assessment_id}/fhir", response={200: dict[str, Any], **READ_ERRORS})
def assessment_fhir(request: SignedInRequest, assessment_id: int) -> dict[str, Any]:
    a: Assessment = access_assessment_by_id(
        request.user, assessment_id, request=request, audit_action=AuditAction.ASSESSMENT_EXPORT_FHIR
    )
    entries = [{"resource": a.fhir_response}]
    if a.fhir_observation:
        entries.append({"resource": a.fhir_observation})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@router.get(
    "/questionnaires/{instrument_id}", response={200: dict[str, Any], **PUBLIC_READ_ERRORS}, auth=None
)
def questionnaire(request: HttpRequest, instrument_id: str) -> dict[str, Any]:
    """The FHIR Questionnaire of an instrument (public definition data, no patient data)."""
    if instrument_id not in INSTRUMENT_IDS:
        raise NotFoundError(f"unknown instrument {instrument_id!r}")
    return build_questionnaire(load_instrument(instrument_id))
