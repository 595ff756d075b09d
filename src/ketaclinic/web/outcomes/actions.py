"""Writes of the outcomes app: the nightly recompute of each clinic's cohort figures, and export job creation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.outcomes.models import CohortSnapshot, ExportJob

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic

SYSTEM_ACTOR = "system: outcomes recompute"


def do_recompute_cohort_snapshots(*, clinic: Clinic, now: dt.datetime | None = None) -> list[CohortSnapshot]:
    """Recompute the clinic's cohort figures for every measure it has scores on (no filters) and store one
    snapshot per measure, with its audit row, in one transaction."""
    from ketaclinic.core.outcomes import analyse_cohort, cohort_instrument_ids
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.outcomes.selectors import OutcomeFilters, clinic_cohort

    at = now or timezone.now()
    used = set(
        Assessment.objects.filter(clinic=clinic, complete=True)
        .values_list("instrument_id", flat=True)
        .distinct()
    )
    snapshots: list[CohortSnapshot] = []
    with transaction.atomic():
        for iid in cohort_instrument_ids():
            if iid not in used:
                continue
            result = analyse_cohort(clinic_cohort(clinic=clinic, filters=OutcomeFilters(instrument=iid)))
            figures = result.to_dict()
            figures.pop("patients", None)
            snapshots.append(
                CohortSnapshot.objects.create(
                    clinic=clinic, instrument_id=iid, computed_at=at, figures=figures
                )
            )
        record_audit(
            actor=SYSTEM_ACTOR,
            action=AuditAction.OUTCOMES_RECOMPUTE,
            clinic=clinic,
            detail={
                s.instrument_id: {"n": s.figures["n"], "evaluable": s.figures["evaluable"]} for s in snapshots
            },
        )
    return snapshots


def do_create_export_job(
    *, actor: User, clinic: Clinic, kind: str, params: dict[str, Any] | None = None, request_url: str = ""
) -> ExportJob:
    """Accept an export job (run it with `exports.run_job` or `exports.start_job`) and audit the request."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            clinic=clinic,
            kind=kind,
            requested_by=actor,
            requested_at=timezone.now(),
            request_url=request_url[:500],
            params=params or {},
        )
        record_audit(
            actor=actor,
            action=AuditAction.FHIR_BULK_EXPORT_KICKOFF
            if kind == ExportJob.Kind.FHIR_BULK
            else AuditAction.RESEARCH_EXTRACT_KICKOFF,
            clinic=clinic,
            detail={"job": str(job.pk), **(params or {})},
        )
    return job
