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
from ketaclinic.core.screening import screen
from ketaclinic.core.terminology import LOINC, UCUM
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User


def _patient_resource(patient: Patient) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"kc-{patient.pk}", "birthDate": patient.birth_date.isoformat()}


def _subject(patient: Patient) -> dict[str, str]:
    return {"reference": f"Patient/kc-{patient.pk}"}


def build_bundle(patient: Patient) -> dict[str, Any]:
    """The patient's current intake as a FHIR R4 Bundle (what the core engine screens)."""
    entries: list[dict[str, Any]] = [{"resource": _patient_resource(patient)}]
    for item in IntakeItem.objects.filter(patient=patient, retracted_at__isnull=True).order_by("pk"):
        res = dict(item.resource)
        if res.get("resourceType") != "Medication":
            key = "patient" if res.get("resourceType") == "AllergyIntolerance" else "subject"
            res[key] = _subject(patient)
        entries.append({"resource": res})
    for w in patient.weights.order_by("measured_at", "pk"):
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"weight-{w.pk}",
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
                    "subject": _subject(patient),
                    "effectiveDateTime": w.measured_at.isoformat(),
                    "valueQuantity": {
                        "value": float(w.weight_kg),
                        "unit": "kg",
                        "system": UCUM,
                        "code": "kg",
                    },
                }
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


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
        "entry": [{"resource": _patient_resource(patient)}, {"resource": resource}],
    }
    try:
        parse_bundle(doc)
    except BundleError as exc:
        raise ValidationFailed({field: [str(i) for i in exc.issues]}) from exc


def _status_cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]}


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
