"""FHIR Bulk Data export (kick-off, status, files, cancel) and the de-identified research extract, clinic scoped.

Follows the HL7 FHIR Bulk Data Access IG (v2): `GET .../fhir/$export` with `Prefer: respond-async` answers 202
with `Content-Location` (the status URL); the status URL answers 202 with `X-Progress` while the job runs and
200 with the manifest when it is complete; `DELETE` on it cancels. Files are NDJSON, one per resource type.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Router
from ninja.params import P, QueryEx

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, user_clinic_ids
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import PermissionDeniedError, ValidationFailed
from ketaclinic.web.outcomes.exports import FHIR_TYPES, cancel_job, export_dir, start_job
from ketaclinic.web.outcomes.models import ExportJob

router = Router(tags=["outcomes"])


def _clinic(request: SignedInRequest, clinic_id: int | None, perms: tuple[Perm, ...]) -> Clinic:
    if clinic_id is None:
        ids = user_clinic_ids(request.user)
        if len(ids) != 1:
            raise ValidationFailed({"clinic_id": ["is required when you belong to more than one clinic"]})
        clinic_id = ids[0]
    clinic = access_clinic_by_id(request.user, clinic_id)
    for perm in perms:
        if not has_perm_in_clinic(request.user, clinic, perm):
            raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
    return clinic


def _status_url(request: SignedInRequest, job: ExportJob) -> str:
    return request.build_absolute_uri(reverse("api-v1:outcomes_export_status", kwargs={"job_id": job.pk}))


def _accepted(request: SignedInRequest, job: ExportJob) -> HttpResponse:
    resp = HttpResponse(status=202)
    resp["Content-Location"] = _status_url(request, job)
    return resp


@router.get("/fhir/$export", url_name="outcomes_fhir_export", response={202: None, **READ_ERRORS})
def fhir_export_kickoff(
    request: SignedInRequest,
    clinic_id: int | None = None,
    type_: QueryEx[str, P(alias="_type")] = "",
    since_: QueryEx[str, P(alias="_since")] = "",
) -> HttpResponse:
    """Kick off a FHIR Bulk Data export of the clinic's patients (Patient, Condition, Observation,
    QuestionnaireResponse, MedicationAdministration, Encounter, AdverseEvent)."""
    errors: dict[str, list[str]] = {}
    if "respond-async" not in request.headers.get("Prefer", ""):
        errors["Prefer"] = ["the header must be respond-async (FHIR Bulk Data kick-off)"]
    accept = request.headers.get("Accept", "application/fhir+json")
    if accept not in ("application/fhir+json", "application/json", "*/*"):
        errors["Accept"] = ["must be application/fhir+json"]
    types = [t.strip() for t in type_.split(",") if t.strip()]
    unknown = [t for t in types if t not in FHIR_TYPES]
    if unknown:
        errors["_type"] = [
            f"unsupported resource type {', '.join(unknown)}; supported: {', '.join(FHIR_TYPES)}"
        ]
    since: dt.datetime | None = None
    if since_:
        try:
            since = dt.datetime.fromisoformat(since_)
        except ValueError:
            errors["_since"] = ["must be a FHIR instant, e.g. 2026-01-01T00:00:00Z"]
        else:
            if since.tzinfo is None:
                errors["_since"] = ["must include a timezone offset (e.g. Z)"]
    if errors:
        raise ValidationFailed(errors)
    clinic = _clinic(request, clinic_id, (Perm.PATIENT_VIEW, Perm.OUTCOMES_VIEW))
    with transaction.atomic():
        job = ExportJob.objects.create(
            clinic=clinic,
            kind=ExportJob.Kind.FHIR_BULK,
            requested_by=request.user,
            requested_at=timezone.now(),
            request_url=request.build_absolute_uri()[:500],
            params={"types": types or list(FHIR_TYPES), "since": since.isoformat() if since else None},
        )
        record_audit(
            actor=request.user,
            action=AuditAction.FHIR_BULK_EXPORT_KICKOFF,
            clinic=clinic,
            request=request,
            detail={"job": str(job.pk), "types": job.params["types"], "since": job.params["since"]},
        )
        start_job(job)
    return _accepted(request, job)


@router.post("/research-extract", url_name="outcomes_research_extract", response={202: None, **WRITE_ERRORS})
def research_extract_kickoff(
    request: SignedInRequest, clinic_id: int | None = None, format: str = "csv"
) -> HttpResponse:
    """Kick off the de-identified research extract (CSV or Parquet, and the data dictionary) of the clinic."""
    from ketaclinic.web.outcomes.research import FORMATS

    if format not in FORMATS:
        raise ValidationFailed({"format": [f"must be one of: {', '.join(FORMATS)}"]})
    clinic = _clinic(request, clinic_id, (Perm.RESEARCH_VIEW,))
    with transaction.atomic():
        job = ExportJob.objects.create(
            clinic=clinic,
            kind=ExportJob.Kind.RESEARCH,
            requested_by=request.user,
            requested_at=timezone.now(),
            request_url=request.build_absolute_uri()[:500],
            params={"format": format},
        )
        record_audit(
            actor=request.user,
            action=AuditAction.RESEARCH_EXTRACT_KICKOFF,
            clinic=clinic,
            request=request,
            detail={"job": str(job.pk), "format": format},
        )
        start_job(job)
    return _accepted(request, job)


def _job(request: SignedInRequest, job_id: str) -> ExportJob:
    job = (
        ExportJob.objects.select_related("clinic")
        .filter(pk=job_id, clinic_id__in=user_clinic_ids(request.user), requested_by=request.user)
        .first()
    )
    if job is None:
        raise Http404("no such export")
    return job


@router.get(
    "/exports/{uuid:job_id}",
    url_name="outcomes_export_status",
    response={200: dict[str, Any], 202: None, **READ_ERRORS},
)
def export_status(request: SignedInRequest, job_id: str) -> HttpResponse:
    """202 with X-Progress while the export runs; 200 with the manifest when complete; 500 if it failed."""
    job = _job(request, str(job_id))
    S = ExportJob.Status
    if job.status in (S.ACCEPTED, S.RUNNING):
        resp = HttpResponse(status=202)
        resp["X-Progress"] = f"{job.progress}% of patients written" if job.status == S.RUNNING else "queued"
        resp["Retry-After"] = "5"
        return resp
    if job.status == S.CANCELLED:
        raise Http404("this export was cancelled")
    if job.status == S.FAILED:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "exception", "diagnostics": job.error}],
        }
        return HttpResponse(json.dumps(outcome), status=500, content_type="application/fhir+json")
    base = _status_url(request, job)
    files = [o for o in job.output if not o.get("error")]
    errors = [o for o in job.output if o.get("error")]
    manifest = {
        "transactionTime": (job.transaction_time or job.requested_at).isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [{"type": o["type"], "url": f"{base}/{o['file']}", "count": o["count"]} for o in files],
        "error": [{"type": "OperationOutcome", "url": f"{base}/{o['file']}"} for o in errors],
    }
    return HttpResponse(json.dumps(manifest), content_type="application/json")


@router.delete("/exports/{uuid:job_id}", response={202: None, **WRITE_ERRORS})
def export_cancel(request: SignedInRequest, job_id: str) -> HttpResponse:
    job = _job(request, str(job_id))
    with transaction.atomic():
        cancel_job(job)
        record_audit(
            actor=request.user,
            action=AuditAction.EXPORT_CANCEL,
            clinic=job.clinic,
            request=request,
            detail={"job": str(job.pk)},
        )
    return HttpResponse(status=202)


CONTENT_TYPES = {
    ".ndjson": "application/fhir+ndjson",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}


@router.get("/exports/{uuid:job_id}/{name}", response=READ_ERRORS, url_name="outcomes_export_file")
def export_file(request: SignedInRequest, job_id: str, name: str) -> FileResponse:
    """One output file of a complete export; every download is audited."""
    job = _job(request, str(job_id))
    entry = next((o for o in job.output if o["file"] == name), None)
    if job.status != ExportJob.Status.COMPLETE or entry is None:
        raise Http404("no such file in this export")
    path = export_dir(job) / entry["file"]
    if not path.is_file():
        raise Http404("the file is no longer available")
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.FHIR_BULK_EXPORT_DOWNLOAD
            if job.kind == ExportJob.Kind.FHIR_BULK
            else AuditAction.RESEARCH_EXTRACT_DOWNLOAD,
            clinic=job.clinic,
            request=request,
            detail={"job": str(job.pk), "file": name, "count": entry["count"]},
        )
    suffix = path.suffix
    return FileResponse(path.open("rb"), content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"))
