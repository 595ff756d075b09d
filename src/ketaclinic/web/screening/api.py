"""API router of the screening app (mounted at /api/v1/screening/)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from ninja import Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.jsonlimits import FHIR_MAX_DEPTH, loads_limited
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.screening import actions, selectors
from ketaclinic.web.screening.models import ScreeningRun

router = Router(tags=["screening"])


def run_json(run: ScreeningRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        **run.result,
        "cleared": selectors.screening_is_cleared(run.patient),
        "created_at": run.created_at.isoformat(),
        "trigger": run.trigger,
        "reviews": [
            {
                "id": r.pk,
                "finding": r.finding_code,
                "kind": r.kind,
                "reason": r.reason,
                "prescriber": r.prescriber_id,
                "cosigned_by": r.cosigned_by_id,
                "effective": r.effective,
            }
            for r in selectors.reviews_for(run).values()
        ],
    }


@router.post("/patients/{patient_id}/import", response={201: dict[str, Any], **WRITE_ERRORS})
def import_bundle(request: SignedInRequest, patient_id: int) -> Status[dict[str, Any]]:
    """Body: the FHIR R4 Bundle itself (application/json or application/fhir+json)."""
    # Access first (404/403 before anything is read from the body), then the size and depth limits, then parse.
    access_patient_by_id(request.user, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None)
    try:
        doc = loads_limited(
            request.body, max_bytes=settings.KETACLINIC_MAX_BODY_BYTES, max_depth=FHIR_MAX_DEPTH
        )
    except ValueError as exc:
        raise ValidationFailed({"bundle": [str(exc)]}) from None
    run = actions.do_import_bundle(actor=request.user, patient_id=patient_id, bundle=doc, request=request)
    return Status(201, run_json(run))


@router.get("/patients/{patient_id}/result", response={200: dict[str, Any], **READ_ERRORS})
def latest_result(request: SignedInRequest, patient_id: int) -> dict[str, Any]:
    patient = access_patient_by_id(
        request.user,
        patient_id,
        perm=Perm.CLINICAL_VIEW,
        request=request,
        audit_action=AuditAction.SCREENING_VIEW,
    )
    run = selectors.screening_latest(patient)
    return {"result": run_json(run) if run else None}


class ReviewIn(Schema):
    run_id: int
    finding_code: str
    reason: str


@router.post("/patients/{patient_id}/reviews", response={201: dict[str, Any], **WRITE_ERRORS})
def review(request: SignedInRequest, patient_id: int, payload: ReviewIn) -> Status[dict[str, Any]]:
    r = actions.do_review_finding(
        actor=request.user,
        patient_id=patient_id,
        run_id=payload.run_id,
        finding_code=payload.finding_code,
        reason=payload.reason,
        request=request,
    )
    return Status(201, {"id": r.pk, "kind": r.kind, "effective": r.effective})


@router.post(
    "/patients/{patient_id}/reviews/{review_id}/cosign", response={200: dict[str, Any], **WRITE_ERRORS}
)
def cosign(request: SignedInRequest, patient_id: int, review_id: int) -> dict[str, Any]:
    r = actions.do_cosign_override(
        actor=request.user, patient_id=patient_id, review_id=review_id, request=request
    )
    return {"id": r.pk, "kind": r.kind, "effective": r.effective}


class ConsentIn(Schema):
    indication: str
    product: str
    course_ref: str = ""
    patient_acknowledged_off_label: bool = False


@router.post("/patients/{patient_id}/consents", response={201: dict[str, Any], **WRITE_ERRORS})
def consent(request: SignedInRequest, patient_id: int, payload: ConsentIn) -> Status[dict[str, Any]]:
    c = actions.do_record_consent(
        actor=request.user, patient_id=patient_id, request=request, **payload.dict()
    )
    return Status(
        201, {"id": c.pk, "off_label": c.off_label, "notice": c.notice, "jurisdiction": c.jurisdiction}
    )
