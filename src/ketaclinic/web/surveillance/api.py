"""API router of long-term safety surveillance (mounted at /api/v1/surveillance/): a patient's evaluation (the
`ketaclinic surveillance` output with open alerts) and lab results (create, FHIR Bundle import)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Body, Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.surveillance import actions, selectors

router = Router(tags=["surveillance"])


class LabIn(Schema):
    loinc: str
    value: str | float
    taken_at: dt.datetime
    unit: str = ""
    reference_low: float | None = None
    reference_high: float | None = None


def _lab_json(lab: Any) -> dict[str, Any]:
    return {"id": lab.pk, "loinc": lab.loinc, "observation": lab.fhir_observation}


@router.get("/patients/{patient_id}", response={200: dict[str, Any], **READ_ERRORS})
def patient_surveillance(request: SignedInRequest, patient_id: int) -> dict[str, Any]:
    """Exposure and findings as the command prints them, plus which alerts still await a decision."""
    patient = access_patient_by_id(
        request.user,
        patient_id,
        perm=Perm.CLINICAL_VIEW,
        request=request,
        audit_action=AuditAction.SURVEILLANCE_VIEW,
    )
    ev = selectors.evaluate_patient(patient)
    out = ev.result.to_dict()
    out["open_alerts"] = [f.code for f in ev.open_alerts]
    out["items"] = [
        {
            "code": s.code,
            "status": s.status,
            "due_date": s.due_date.isoformat() if s.due_date else None,
            "last_day": s.last_day.isoformat() if s.last_day else None,
        }
        for s in ev.result.items
    ]
    return out


@router.post("/patients/{patient_id}/labs", response={201: dict[str, Any], **WRITE_ERRORS})
def create_lab(request: SignedInRequest, patient_id: int, payload: LabIn) -> Status[dict[str, Any]]:
    lab = actions.do_record_lab_result(
        actor=request.user,
        patient_id=patient_id,
        loinc=payload.loinc,
        value=payload.value,
        unit=payload.unit,
        reference_low=payload.reference_low,
        reference_high=payload.reference_high,
        taken_at=payload.taken_at,
        request=request,
    )
    return Status(201, _lab_json(lab))


@router.post("/patients/{patient_id}/labs/bundle", response={201: dict[str, Any], **WRITE_ERRORS})
def import_labs(
    request: SignedInRequest, patient_id: int, payload: Body[dict[str, Any]]
) -> Status[dict[str, Any]]:
    labs = actions.do_import_lab_bundle(
        actor=request.user, patient_id=patient_id, bundle=payload, request=request
    )
    return Status(201, {"imported": [_lab_json(lab) for lab in labs]})
