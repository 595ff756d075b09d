"""API router of the treatment app (mounted at /api/v1/treatment/): sessions and their vitals."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema

from ketaclinic.web.access import access_session_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.treatment import actions, selectors
from ketaclinic.web.treatment.models import DosingSession, VitalSign

router = Router(tags=["treatment"])


class VitalsIn(Schema):
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    taken_at: str | None = None


def _vital(v: VitalSign) -> dict[str, Any]:
    return {
        "id": v.pk,
        "taken_at": v.taken_at.isoformat(),
        "systolic": v.systolic,
        "diastolic": v.diastolic,
        "heart_rate": v.heart_rate,
        "spo2": v.spo2,
        "respiratory_rate": v.respiratory_rate,
        "source": v.source,
        "device_id": v.device_id,
        "is_baseline": v.is_baseline,
    }


def _load(request: SignedInRequest, session_id: int) -> DosingSession:
    s: DosingSession = access_session_by_id(request.user, session_id, request=request)
    return s


@router.get("/sessions/{session_id}", response={200: dict[str, Any], **READ_ERRORS})
def get_session(request: SignedInRequest, session_id: int) -> dict[str, Any]:
    s = _load(request, session_id)
    d = selectors.discharge_decision(s) if s.status in ("monitoring", "discharge_ready") else None
    return {
        "id": s.pk,
        "patient": s.patient_id,
        "status": s.status,
        "scheduled_for": s.scheduled_for.isoformat(),
        "first_dose_at": s.first_dose_at.isoformat() if s.first_dose_at else None,
        "infusion_paused": s.infusion_paused,
        "order": {"dose_mg": str(s.order.dose_mg), "route": s.order.route} if s.order else None,
        "administrations": [
            {
                "dose_mg": str(a.dose_mg),
                "lot_number": a.lot_number,
                "device_number": a.device_number,
                "administered_at": a.administered_at.isoformat(),
            }
            for a in s.administrations.all()
        ],
        "discharge": None
        if d is None
        else {"ready": d.ready, "unmet": [{"code": u.code, "message": u.message} for u in d.unmet]},
    }


@router.get("/sessions/{session_id}/vitals", response={200: list[dict[str, Any]], **READ_ERRORS})
def list_vitals(request: SignedInRequest, session_id: int) -> list[dict[str, Any]]:
    return [_vital(v) for v in _load(request, session_id).vitals.all()]


@router.post("/sessions/{session_id}/vitals", response={200: dict[str, Any], **WRITE_ERRORS})
def post_vitals(request: SignedInRequest, session_id: int, payload: VitalsIn) -> dict[str, Any]:
    data = payload.dict()
    taken = data.pop("taken_at")
    vs, alerts = actions.do_record_vitals(
        actor=request.user, session_id=session_id, values=data, taken_at=taken, request=request
    )
    return {
        **_vital(vs),
        "alerts": [
            {"code": a.code, "level": a.level, "message": a.message, "paused_infusion": a.paused_infusion}
            for a in alerts
        ],
    }


@router.get("/sessions/{session_id}/fhir", response={200: dict[str, Any], **READ_ERRORS})
def session_fhir(request: SignedInRequest, session_id: int) -> dict[str, Any]:
    """The session as a FHIR R4 collection Bundle: Encounter, MedicationRequest, MedicationAdministration,
    vital-sign Observations (LOINC) and AdverseEvent; validated before it is returned."""
    from ketaclinic.web.treatment.fhir import session_fhir_bundle

    return session_fhir_bundle(_load(request, session_id))


@router.get("/sessions/{session_id}/vitals/fhir", response={200: dict[str, Any], **READ_ERRORS})
def vitals_fhir(request: SignedInRequest, session_id: int) -> dict[str, Any]:
    """The session's vital signs as FHIR vital-signs Observations in a collection Bundle."""
    from ketaclinic.web.treatment.fhir import vitals_fhir_bundle

    return vitals_fhir_bundle(_load(request, session_id))
