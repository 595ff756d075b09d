"""Intake entry: coded conditions, medications and allergies, retraction, Bundle import, a manual re-screen."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.intake import BundleError, parse_bundle
from ketaclinic.core.fhir.intake import build as fhir_build
from ketaclinic.core.screening import ROUTES
from ketaclinic.core.terminology import ICD10CM, SNOMED, icd10cm_normalize
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.screening.actions.common import _parse_day, _rerun, _save_item, _write_item
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User

CONDITION_SYSTEMS = {"icd10cm": ICD10CM, "snomed": SNOMED}


CLINICAL_STATUSES = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")


VERIFICATION_STATUSES = (
    "unconfirmed",
    "provisional",
    "differential",
    "confirmed",
    "refuted",
    "entered-in-error",
)


MEDICATION_STATUSES = ("active", "completed", "intended", "stopped", "on-hold", "unknown", "not-taken")


def do_record_condition(
    *,
    actor: User,
    patient_id: int,
    system: str,
    code: str,
    clinical_status: str,
    verification_status: str = "confirmed",
    onset: Any = None,
    abatement: Any = None,
    text: str = "",
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record a coded condition (ICD-10-CM or SNOMED CT) with its status and dates, then re-screen."""
    errors: dict[str, list[str]] = {}
    uri = CONDITION_SYSTEMS.get(system)
    code = (code or "").strip()
    if uri is None:
        errors["system"] = ["must be icd10cm or snomed"]
    elif not code:
        errors["code"] = ["required"]
    elif uri == ICD10CM:
        norm = icd10cm_normalize(code)
        if norm is None:
            errors["code"] = [f"{code!r} is not an ICD-10-CM code"]
        else:
            code = norm
    elif not re.fullmatch(r"[1-9][0-9]{5,17}", code):
        errors["code"] = [f"{code!r} is not a SNOMED CT concept id"]
    if clinical_status not in CLINICAL_STATUSES:
        errors["clinical_status"] = [f"must be one of {', '.join(CLINICAL_STATUSES)}"]
    if verification_status not in VERIFICATION_STATUSES:
        errors["verification_status"] = [f"must be one of {', '.join(VERIFICATION_STATUSES)}"]
    onset_s = _parse_day(onset, "onset", errors)
    abatement_s = _parse_day(abatement, "abatement", errors)
    if onset_s and abatement_s and abatement_s < onset_s:
        errors["abatement"] = ["cannot be before the onset"]
    if errors or uri is None:
        raise ValidationFailed(errors)
    resource = fhir_build.condition(
        resource_id=f"c-{uuid.uuid4().hex[:12]}",
        system_uri=uri,
        code=code,
        clinical_status=clinical_status,
        verification_status=verification_status,
        text=text.strip(),
        onset=onset_s,
        abatement=abatement_s,
    )
    summary = f"{system.upper()} {code} {text.strip()} ({clinical_status})".replace("  ", " ")
    return _write_item(actor, patient_id, resource, summary, request)


def do_record_medication(
    *,
    actor: User,
    patient_id: int,
    rxnorm: str = "",
    name: str = "",
    status: str = "active",
    start: Any = None,
    end: Any = None,
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record a current or past medication (RxNorm ingredient code and/or name), then re-screen."""
    errors: dict[str, list[str]] = {}
    rxnorm, name = (rxnorm or "").strip(), (name or "").strip()
    if not rxnorm and not name:
        errors["rxnorm"] = ["give an RxNorm code or the ingredient name"]
    elif rxnorm and not rxnorm.isdigit():
        errors["rxnorm"] = ["an RxNorm code is digits only"]
    if status not in MEDICATION_STATUSES:
        errors["status"] = [f"must be one of {', '.join(MEDICATION_STATUSES)}"]
    start_s, end_s = _parse_day(start, "start", errors), _parse_day(end, "end", errors)
    if errors:
        raise ValidationFailed(errors)
    resource = fhir_build.medication_statement(
        resource_id=f"m-{uuid.uuid4().hex[:12]}",
        status=status,
        rxnorm=rxnorm,
        name=name,
        start=start_s,
        end=end_s,
    )
    return _write_item(actor, patient_id, resource, f"{name or 'RxNorm ' + rxnorm} ({status})", request)


def do_record_allergy(
    *,
    actor: User,
    patient_id: int,
    rxnorm: str = "",
    snomed: str = "",
    name: str = "",
    clinical_status: str = "active",
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record an allergy or intolerance (RxNorm, SNOMED CT substance, or name), then re-screen."""
    errors: dict[str, list[str]] = {}
    if not rxnorm.strip() and not snomed.strip() and not name.strip():
        errors["name"] = ["give a code or the substance name"]
    if clinical_status not in ("active", "inactive", "resolved"):
        errors["clinical_status"] = ["must be active, inactive or resolved"]
    if errors:
        raise ValidationFailed(errors)
    resource = fhir_build.allergy_intolerance(
        resource_id=f"a-{uuid.uuid4().hex[:12]}",
        clinical_status=clinical_status,
        rxnorm=rxnorm.strip(),
        snomed=snomed.strip(),
        name=name.strip(),
    )
    return _write_item(
        actor, patient_id, resource, f"{name or rxnorm or snomed} ({clinical_status})", request
    )


def do_retract_intake_item(
    *, actor: User, patient_id: int, item_id: int, reason: str, request: HttpRequest | None = None
) -> ScreeningRun:
    """Withdraw an intake item (e.g. entered in error): kept, never deleted, with who and why; then re-screen."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["required: say why the item is withdrawn"]})
    if len(reason) < 5:
        raise ValidationFailed({"reason": ["too short: say why the item is withdrawn"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        item = IntakeItem.objects.filter(pk=item_id, patient=patient, retracted_at__isnull=True).first()
        if item is None:
            raise NotFoundError("no such intake item")
        item.retracted_at = timezone.now()
        item.retracted_by = actor
        item.retraction_reason = reason[:2000]
        item.save(update_fields=["retracted_at", "retracted_by", "retraction_reason"])
        record_audit(
            actor=actor,
            action=AuditAction.SCREENING_INTAKE_RETRACT,
            obj=item,
            patient=patient,
            request=request,
            detail={"reason": item.retraction_reason, "summary": item.summary, "kind": item.kind},
        )
        return _rerun(patient, actor=actor, trigger="intake:retract", request=request)


def do_import_bundle(
    *, actor: User, patient_id: int, bundle: Any, request: HttpRequest | None = None
) -> ScreeningRun:
    """Import a FHIR R4 intake Bundle: validate it whole, store its intake resources, re-screen. All or nothing."""
    try:
        intake = parse_bundle(bundle)
    except BundleError as exc:
        raise ValidationFailed({"bundle": [str(i) for i in exc.issues]}) from exc
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        bd = intake.patient.birth_date
        if bd is not None and not (bd.earliest <= patient.birth_date <= bd.latest):
            raise ValidationFailed(
                {
                    "bundle": [
                        f"{intake.patient.ref}: Patient.birthDate: {bd.text} does not match "
                        f"this patient's birth date"
                    ]
                }
            )
        count = 0
        for entry in bundle["entry"]:
            res = entry["resource"]
            if res.get("resourceType") in (
                "Condition",
                "MedicationStatement",
                "AllergyIntolerance",
                "Observation",
                "Medication",
            ):
                label = res.get("resourceType") + "/" + str(res.get("id", "?"))
                _save_item(
                    patient,
                    actor=actor,
                    resource=res,
                    summary=f"imported {label}",
                    source="import",
                    request=request,
                )
                count += 1
        record_audit(
            actor=actor,
            action=AuditAction.SCREENING_IMPORT,
            patient=patient,
            request=request,
            detail={"resources": count, "problems": [str(p) for p in intake.problems]},
        )
        return _rerun(patient, actor=actor, trigger="import", request=request)


def do_run_screening(
    *, actor: User, patient_id: int, route: str, request: HttpRequest | None = None
) -> ScreeningRun:
    """Re-screen now for a chosen route."""
    if route not in ROUTES:
        raise ValidationFailed({"route": [f"must be one of {', '.join(ROUTES)}"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        return _rerun(patient, actor=actor, trigger="manual", route=route, request=request)
