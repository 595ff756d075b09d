"""Shared pieces of the screening actions: the intake Bundle the engine reads, re-screening after every
change (inside the caller's transaction), and saving one intake item with its audit row."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.intake import BundleError, parse_bundle
from ketaclinic.core.fhir.intake import build as fhir_build
from ketaclinic.core.screening import screen
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User


def build_bundle(patient: Patient) -> dict[str, Any]:
    """The patient's current intake as a FHIR R4 Bundle (what the core engine screens)."""
    items = IntakeItem.objects.filter(patient=patient, retracted_at__isnull=True).order_by("pk")
    weights = [
        fhir_build.body_weight(
            resource_id=f"weight-{w.pk}",
            patient_id=patient.pk,
            measured_at=w.measured_at,
            weight_kg=float(w.weight_kg),
        )
        for w in patient.weights.order_by("measured_at", "pk")
    ]
    return fhir_build.intake_bundle(
        patient.pk, patient.birth_date, (item.resource for item in items), weights
    )


def _rerun(
    patient: Patient,
    *,
    actor: User,
    trigger: str,
    route: str | None = None,
    request: HttpRequest | None = None,
) -> ScreeningRun:
    """Screen the patient's stored intake now and store the result (called inside the caller's transaction)."""
    if route is None:
        last = ScreeningRun.objects.filter(patient=patient).first()
        route = last.route if last else "iv"
    result = screen(parse_bundle(build_bundle(patient)), on=timezone.localdate(), route=route)  # type: ignore[arg-type]
    run = ScreeningRun.objects.create(
        patient=patient,
        decision=result.decision,
        ruleset_version=result.ruleset_version,
        on=result.on,
        route=route,
        result=result.to_record(),
        trigger=trigger,
        created_by=actor,
        created_at=timezone.now(),
    )
    record_audit(
        actor=actor,
        action=AuditAction.SCREENING_RUN,
        obj=run,
        patient=patient,
        request=request,
        detail={
            "decision": run.decision,
            "ruleset": run.ruleset_version,
            "trigger": trigger,
            "findings": [f["code"] for f in result.to_contract()["findings"]],
        },
    )
    return run


def _check_resource(patient: Patient, resource: dict[str, Any], field: str) -> None:
    """Validate a single resource as the engine will read it; ValidationFailed naming the field on error."""
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir_build.patient_resource(patient.pk, patient.birth_date)},
            {"resource": resource},
        ],
    }
    try:
        parse_bundle(doc)
    except BundleError as exc:
        raise ValidationFailed({field: [str(i) for i in exc.issues]}) from exc


def _parse_day(raw: Any, field: str, errors: dict[str, list[str]]) -> str | None:
    if raw in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError:
        errors[field] = ["must be a date YYYY-MM-DD"]
        return None
    if day > timezone.localdate():
        errors[field] = ["cannot be in the future"]
    return day.isoformat()


def _save_item(
    patient: Patient,
    *,
    actor: User,
    resource: dict[str, Any],
    summary: str,
    source: str,
    request: HttpRequest | None,
) -> IntakeItem:
    item = IntakeItem.objects.create(
        patient=patient,
        kind=resource["resourceType"],
        resource=resource,
        source=source,
        summary=summary[:300],
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    record_audit(
        actor=actor,
        action=AuditAction.SCREENING_INTAKE_ADD,
        obj=item,
        patient=patient,
        request=request,
        detail={"kind": item.kind, "summary": item.summary, "source": source},
    )
    return item


def _write_item(
    actor: User, patient_id: int, resource: dict[str, Any], summary: str, request: HttpRequest | None
) -> IntakeItem:
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        _check_resource(patient, resource, "resource")
        item = _save_item(
            patient, actor=actor, resource=resource, summary=summary, source="form", request=request
        )
        _rerun(patient, actor=actor, trigger=f"intake:{item.kind}", request=request)
    return item
