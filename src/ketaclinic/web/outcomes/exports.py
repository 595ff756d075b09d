"""Export jobs: FHIR Bulk Data NDJSON (one file per resource type) and the de-identified research extract.

A job is accepted by the API (or the CLI), then run in the background (a thread after the request commits, or
`ketaclinic manage outcomes_run_exports`); its files are written under <data dir>/exports/<job id>/. Every
resource written is valid FHIR R4 (fhir.resources R4B models): the builders validate, and Conditions
recorded at intake are checked here; an invalid one goes to the job's error list instead of the file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.outcomes.models import ExportJob

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

FHIR_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "QuestionnaireResponse",
    "MedicationAdministration",
    "Encounter",
    "AdverseEvent",
)
logger = logging.getLogger(__name__)
PROGRESS_EVERY = 50  # patients between progress updates


def export_dir(job: ExportJob) -> Path:
    from ketaclinic.web.config.bootstrap import data_home

    return data_home() / "exports" / str(job.id)


def _since_ok(when: dt.datetime | None, since: dt.datetime | None) -> bool:
    return since is None or (when is not None and when >= since)


def patient_resources(
    patient: Patient, types: set[str], since: dt.datetime | None
) -> Iterator[dict[str, Any]]:
    """The patient's resources of the requested types (changed at or after `since`, when given)."""
    from ketaclinic.core.fhir.validate import validate_resource
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.patients.selectors import patient_fhir
    from ketaclinic.web.screening.models import IntakeItem
    from ketaclinic.web.treatment.fhir import session_fhir_bundle
    from ketaclinic.web.treatment.models import DosingSession

    if "Patient" in types and _since_ok(patient.updated_at, since):
        yield patient_fhir(patient)
    if "Condition" in types:
        for item in IntakeItem.objects.filter(
            patient=patient, kind=IntakeItem.Kind.CONDITION, retracted_at__isnull=True
        ).order_by("pk"):
            if not _since_ok(item.recorded_at, since):
                continue
            res = {
                **item.resource,
                "id": f"intake-{item.pk}",
                "subject": {"reference": f"Patient/{patient.pk}"},
            }
            issues = validate_resource(res)
            if issues:
                yield {
                    "resourceType": "OperationOutcome",
                    "issue": [_issue(f"Condition intake-{item.pk}: {i}") for i in issues],
                }
                continue
            yield res
    if types & {"Observation", "QuestionnaireResponse"}:
        rows = (
            Assessment.objects.filter(patient=patient)
            .order_by("assessed_at", "pk")
            .values_list("created_at", "fhir_response", "fhir_observation")
        )
        for created, qr, obs in rows:
            if not _since_ok(created, since):
                continue
            if "QuestionnaireResponse" in types and qr:
                yield qr
            if "Observation" in types and obs:
                yield obs
    if types & {"Observation", "MedicationAdministration", "Encounter", "AdverseEvent"}:
        sessions = (
            DosingSession.objects.filter(patient=patient)
            .select_related("clinic", "site", "order", "course", "order__signed_by")
            .order_by("scheduled_for", "pk")
        )
        for s in sessions:
            if not _since_ok(s.created_at, since):
                continue
            for entry in session_fhir_bundle(s)["entry"]:
                res = entry["resource"]
                if res["resourceType"] in types:
                    yield res


def _issue(text: str) -> dict[str, Any]:
    return {"severity": "error", "code": "invalid", "diagnostics": text}


def _set(job: ExportJob, **fields: Any) -> None:
    fields.setdefault("heartbeat_at", timezone.now())
    for k, v in fields.items():
        setattr(job, k, v)
    ExportJob.objects.filter(pk=job.pk).update(**fields)


def _cancelled(job: ExportJob) -> bool:
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.CANCELLED).exists()


def run_fhir_export(job: ExportJob, *, progress: Callable[[int, int], None] | None = None) -> ExportJob:
    """Write the job's NDJSON files; `progress(done, total)` is called as patients are written."""
    from ketaclinic.web.patients.models import Patient

    types = set(job.params.get("types") or FHIR_TYPES)
    since_raw = job.params.get("since")
    since = dt.datetime.fromisoformat(since_raw) if since_raw else None
    out = export_dir(job)
    out.mkdir(parents=True, exist_ok=True)
    _set(job, status=ExportJob.Status.RUNNING, transaction_time=timezone.now())
    files: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        patients = (
            Patient.objects.filter(clinic=job.clinic).select_related("clinic", "home_site").order_by("pk")
        )
        total = patients.count()
        for n, patient in enumerate(patients.iterator(chunk_size=200), start=1):
            for res in patient_resources(patient, types, since):
                rtype = res["resourceType"]
                if rtype not in files:
                    files[rtype] = (out / f"{rtype}.ndjson").open("w", encoding="utf-8")
                files[rtype].write(json.dumps(res, ensure_ascii=False, separators=(",", ":")) + "\n")
                counts[rtype] = counts.get(rtype, 0) + 1
            if n % PROGRESS_EVERY == 0 or n == total:
                if _cancelled(job):
                    return job
                _set(job, progress=int(100 * n / total))
                if progress is not None:
                    progress(n, total)
        for f in files.values():
            f.close()
        output = [{"type": t, "file": f"{t}.ndjson", "count": counts[t]} for t in FHIR_TYPES if t in counts]
        if "OperationOutcome" in counts:
            output.append(
                {
                    "type": "OperationOutcome",
                    "file": "OperationOutcome.ndjson",
                    "count": counts["OperationOutcome"],
                    "error": True,
                }
            )
        with transaction.atomic():
            _set(
                job,
                status=ExportJob.Status.COMPLETE,
                progress=100,
                completed_at=timezone.now(),
                output=output,
            )
            record_audit(
                actor=job.requested_by,
                action=AuditAction.FHIR_BULK_EXPORT_COMPLETE,
                clinic=job.clinic,
                detail={"job": str(job.id), "counts": counts, "patients": total},
            )
    except Exception as exc:  # a failed job reports why; nothing half-written is offered for download
        for f in files.values():
            f.close()
        shutil.rmtree(out, ignore_errors=True)
        _set(job, status=ExportJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    return job


def run_job(job: ExportJob, *, progress: Callable[[int, int], None] | None = None) -> ExportJob:
    from ketaclinic.web.outcomes.research import run_research_export

    if job.kind == ExportJob.Kind.RESEARCH:
        return run_research_export(job, progress=progress)
    return run_fhir_export(job, progress=progress)


def _run_accepted(job_id: Any) -> None:
    """Run the job if it is still accepted; a failure is recorded on the job and logged for the operator."""
    try:
        job = ExportJob.objects.select_related("clinic", "requested_by").get(pk=job_id)
        if job.status == ExportJob.Status.ACCEPTED:
            run_job(job)
    except Exception:
        logger.exception("export job %s failed", job_id)


def _run_in_thread(job_id: Any) -> None:
    """A background thread's run: its own database connection, closed when done."""
    close_old_connections()
    try:
        _run_accepted(job_id)
    finally:
        close_old_connections()


def start_job(job: ExportJob) -> None:
    """Run the job now (KETACLINIC_EXPORT_INLINE, tests) or in a background thread once the request commits."""
    if getattr(settings, "KETACLINIC_EXPORT_INLINE", False):
        run_job(job)
        return
    job_id = job.pk
    transaction.on_commit(
        lambda: threading.Thread(target=_run_in_thread, args=(job_id,), daemon=True).start()
    )


def cancel_job(job: ExportJob) -> None:
    """Cancel a job and delete its files."""
    _set(job, status=ExportJob.Status.CANCELLED)
    shutil.rmtree(export_dir(job), ignore_errors=True)


#: A job whose process has shown no sign of life (a progress update) for this long was abandoned.
STALE_AFTER = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 2


def resume_abandoned_jobs(now: dt.datetime | None = None) -> tuple[list[str], list[str]]:
    """Jobs left accepted or running by a process that stopped (no heartbeat for STALE_AFTER): each is started
    again from the beginning in this process (its files are rewritten), once; a job abandoned twice is marked
    failed with the reason. Each job is claimed by a conditional update, so of several processes one takes it.
    Returns (resumed ids, failed ids)."""
    from django.db.models import F, Q

    at = now or timezone.now()
    S = ExportJob.Status
    cutoff = at - STALE_AFTER
    stale = Q(status__in=[S.ACCEPTED, S.RUNNING]) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, requested_at__lt=cutoff)
    )
    resumed: list[str] = []
    failed: list[str] = []
    for job in ExportJob.objects.filter(stale).order_by("requested_at"):
        mine = ExportJob.objects.filter(stale, pk=job.pk)
        if job.attempts >= MAX_ATTEMPTS:
            if mine.update(
                status=S.FAILED,
                completed_at=at,
                error=f"The server stopped while this export ran ({job.attempts} attempts); request it again.",
            ):
                failed.append(str(job.pk))
            continue
        if mine.update(status=S.ACCEPTED, attempts=F("attempts") + 1, heartbeat_at=at, progress=0):
            resumed.append(str(job.pk))
            record_audit(
                actor="system: export resume",
                action=AuditAction.EXPORT_RESUMED,
                clinic=job.clinic,
                detail={"job": str(job.pk), "kind": job.kind, "attempt": job.attempts + 1},
            )
            if getattr(settings, "KETACLINIC_EXPORT_INLINE", False):
                _run_accepted(job.pk)  # inline (tests): the caller's connection and transaction
            else:
                threading.Thread(target=_run_in_thread, args=(job.pk,), daemon=True).start()
    return resumed, failed
