"""Writes of the screening domain: intake entry and import, automatic re-screening, review/override, consent."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from importlib import resources
from typing import Any

import yaml
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.fhir.intake import BundleError, parse_bundle
from ketaclinic.core.screening import ROUTES, screen
from ketaclinic.core.terminology import ICD10CM, LOINC, RXNORM, SNOMED, UCUM, icd10cm_normalize
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.access import access_patient_by_id
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.screening.models import Consent, FindingReview, IntakeItem, ScreeningRun

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
_SENTENCE = re.compile(r"\b\w+\b.*\b\w+\b.*\b\w+\b.*[.!?]\s*$", re.S)


# ------------------------------------------------------------------------------------------ FHIR building


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
    actor: Any,
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
        action="screening.run",
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


# ------------------------------------------------------------------------------------------ intake forms


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
    actor: Any,
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
        action="screening.intake_add",
        obj=item,
        patient=patient,
        request=request,
        detail={"kind": item.kind, "summary": item.summary, "source": source},
    )
    return item


def do_record_condition(
    *,
    actor: Any,
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
    if errors:
        raise ValidationFailed(errors)
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c-{uuid.uuid4().hex[:12]}",
        "clinicalStatus": _status_cc("condition-clinical", clinical_status),
        "verificationStatus": _status_cc("condition-ver-status", verification_status),
        "code": {
            "coding": [{"system": uri, "code": code}],
            **({"text": text.strip()} if text.strip() else {}),
        },
    }
    if onset_s:
        resource["onsetDateTime"] = onset_s
    if abatement_s:
        resource["abatementDateTime"] = abatement_s
    summary = f"{system.upper()} {code} {text.strip()} ({clinical_status})".replace("  ", " ")
    return _write_item(actor, patient_id, resource, summary, request)


def do_record_medication(
    *,
    actor: Any,
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
    cc: dict[str, Any] = {}
    if rxnorm:
        cc["coding"] = [{"system": RXNORM, "code": rxnorm}]
    if name:
        cc["text"] = name
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": f"m-{uuid.uuid4().hex[:12]}",
        "status": status,
        "medicationCodeableConcept": cc,
    }
    if start_s or end_s:
        resource["effectivePeriod"] = {k: v for k, v in (("start", start_s), ("end", end_s)) if v}
    return _write_item(actor, patient_id, resource, f"{name or 'RxNorm ' + rxnorm} ({status})", request)


def do_record_allergy(
    *,
    actor: Any,
    patient_id: int,
    rxnorm: str = "",
    snomed: str = "",
    name: str = "",
    clinical_status: str = "active",
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record an allergy or intolerance (RxNorm, SNOMED CT substance, or name), then re-screen."""
    errors: dict[str, list[str]] = {}
    codings = []
    if rxnorm.strip():
        codings.append({"system": RXNORM, "code": rxnorm.strip()})
    if snomed.strip():
        codings.append({"system": SNOMED, "code": snomed.strip()})
    if not codings and not name.strip():
        errors["name"] = ["give a code or the substance name"]
    if clinical_status not in ("active", "inactive", "resolved"):
        errors["clinical_status"] = ["must be active, inactive or resolved"]
    if errors:
        raise ValidationFailed(errors)
    cc: dict[str, Any] = {"coding": codings} if codings else {}
    if name.strip():
        cc["text"] = name.strip()
    resource = {
        "resourceType": "AllergyIntolerance",
        "id": f"a-{uuid.uuid4().hex[:12]}",
        "clinicalStatus": _status_cc("allergyintolerance-clinical", clinical_status),
        "code": cc,
    }
    return _write_item(
        actor, patient_id, resource, f"{name or rxnorm or snomed} ({clinical_status})", request
    )


def _bp_resource(
    systolic: Any, diastolic: Any, measured_at: dt.datetime | None, errors: dict[str, list[str]]
) -> tuple[dict[str, Any], str] | None:
    """The FHIR blood-pressure panel (LOINC 85354-9, mm[Hg]) and its summary; problems go into `errors`."""
    values: dict[str, int] = {}
    for field, raw, lo, hi in (("systolic", systolic, 50, 300), ("diastolic", diastolic, 20, 200)):
        try:
            v = int(str(raw).strip())
        except ValueError:
            errors[field] = ["must be a whole number of mm[Hg]"]
            continue
        if not lo <= v <= hi:
            errors[field] = [f"must be between {lo} and {hi} mm[Hg]"]
        values[field] = v
    _check_when(measured_at, errors)
    if len(values) != 2 or any(k in errors for k in ("systolic", "diastolic", "measured_at")):
        return None

    def comp(loinc: str, v: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "valueQuantity": {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    when = measured_at or timezone.now()
    resource = {
        "resourceType": "Observation",
        "id": f"bp-{uuid.uuid4().hex[:12]}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": when.isoformat(),
        "component": [comp("8480-6", values["systolic"]), comp("8462-4", values["diastolic"])],
    }
    return resource, f"BP {values['systolic']}/{values['diastolic']} mm[Hg]"


def _check_when(measured_at: dt.datetime | None, errors: dict[str, list[str]]) -> None:
    when = measured_at or timezone.now()
    if timezone.is_naive(when):
        errors["measured_at"] = ["must include a timezone"]
    elif when > timezone.now() + dt.timedelta(minutes=5):
        errors["measured_at"] = ["cannot be in the future"]


def _pregnancy_resource(pregnant: bool, measured_at: dt.datetime | None) -> tuple[dict[str, Any], str]:
    when = measured_at or timezone.now()
    answer = {"system": SNOMED, "code": "77386006" if pregnant else "60001007"}
    resource = {
        "resourceType": "Observation",
        "id": f"ps-{uuid.uuid4().hex[:12]}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
        "effectiveDateTime": when.isoformat(),
        "valueCodeableConcept": {"coding": [answer]},
    }
    return resource, "pregnant" if pregnant else "not pregnant"


def do_record_blood_pressure(
    *,
    actor: Any,
    patient_id: int,
    systolic: Any,
    diastolic: Any,
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record a blood pressure in mm[Hg] (LOINC 85354-9 panel), then re-screen."""
    errors: dict[str, list[str]] = {}
    built = _bp_resource(systolic, diastolic, measured_at, errors)
    if errors or built is None:
        raise ValidationFailed(errors)
    resource, summary = built
    return _write_item(actor, patient_id, resource, summary, request)


PREGNANCY_CHOICES = {"": None, "pregnant": True, "not_pregnant": False}


def do_record_vitals(
    *,
    actor: Any,
    patient_id: int,
    systolic: Any = "",
    diastolic: Any = "",
    weight_kg: Any = "",
    pregnancy: Any = "",
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> ScreeningRun:
    """The vitals form: any of blood pressure, weight and pregnancy status, validated together and stored all or
    nothing in one transaction with a single re-screen."""
    from ketaclinic.web.patients.actions import do_record_weight, parse_weight

    def blank(v: Any) -> bool:
        return v is None or str(v).strip() == ""

    errors: dict[str, list[str]] = {}
    bp = None
    if not (blank(systolic) and blank(diastolic)):
        bp = _bp_resource(systolic, diastolic, measured_at, errors)
    if not blank(weight_kg):
        _w, werr = parse_weight(weight_kg)
        if werr:
            errors["weight_kg"] = werr
    pregnancy = "" if pregnancy is None else str(pregnancy)
    if pregnancy not in PREGNANCY_CHOICES:
        errors["pregnancy"] = ["must be pregnant, not_pregnant or left empty"]
    elif bp is None and blank(weight_kg) and pregnancy == "" and not errors:
        errors["vitals"] = ["enter a blood pressure, a weight or a pregnancy status"]
    _check_when(measured_at, errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        resources_: list[tuple[dict[str, Any], str]] = []
        if bp is not None:
            resources_.append(bp)
        if PREGNANCY_CHOICES[pregnancy] is not None:
            resources_.append(_pregnancy_resource(bool(PREGNANCY_CHOICES[pregnancy]), measured_at))
        for resource, summary in resources_:
            _check_resource(patient, resource, "resource")
            _save_item(
                patient, actor=actor, resource=resource, summary=summary, source="form", request=request
            )
        if not blank(weight_kg):
            do_record_weight(
                actor=actor,
                patient_id=patient.pk,
                weight_kg=weight_kg,
                measured_at=measured_at,
                source="screening",
                request=request,
            )
        return _rerun(patient, actor=actor, trigger="intake:vitals", request=request)


def do_record_intake_weight(
    *,
    actor: Any,
    patient_id: int,
    weight_kg: Any,
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> ScreeningRun:
    """Record a weight through the patients app's action, then re-screen (one transaction)."""
    from ketaclinic.web.patients.actions import do_record_weight

    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        do_record_weight(
            actor=actor,
            patient_id=patient.pk,
            weight_kg=weight_kg,
            measured_at=measured_at,
            source="screening",
            request=request,
        )
        return _rerun(patient, actor=actor, trigger="weight", request=request)


def _write_item(
    actor: Any, patient_id: int, resource: dict[str, Any], summary: str, request: HttpRequest | None
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


def do_retract_intake_item(
    *, actor: Any, patient_id: int, item_id: int, reason: str, request: HttpRequest | None = None
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
            action="screening.intake_retract",
            obj=item,
            patient=patient,
            request=request,
            detail={"reason": item.retraction_reason, "summary": item.summary, "kind": item.kind},
        )
        return _rerun(patient, actor=actor, trigger="intake:retract", request=request)


def do_import_bundle(
    *, actor: Any, patient_id: int, bundle: Any, request: HttpRequest | None = None
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
            action="screening.import",
            patient=patient,
            request=request,
            detail={"resources": count, "problems": [str(p) for p in intake.problems]},
        )
        return _rerun(patient, actor=actor, trigger="import", request=request)


def do_run_screening(
    *, actor: Any, patient_id: int, route: str, request: HttpRequest | None = None
) -> ScreeningRun:
    """Re-screen now for a chosen route."""
    if route not in ROUTES:
        raise ValidationFailed({"route": [f"must be one of {', '.join(ROUTES)}"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        return _rerun(patient, actor=actor, trigger="manual", route=route, request=request)


# ------------------------------------------------------------------------------------------ review


def is_sentence(text: str) -> bool:
    """At least one full sentence: three or more words ending with . ! or ?"""
    return bool(_SENTENCE.search(text.strip()))


def do_review_finding(
    *,
    actor: Any,
    patient_id: int,
    run_id: int,
    finding_code: str,
    reason: str,
    request: HttpRequest | None = None,
) -> FindingReview:
    """A prescriber clears a relative finding, or proposes an override of an absolute one (needs a co-signature)."""
    reason = (reason or "").strip()
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_DECIDE, audit_action=None, request=request, for_update=True
        )
        run = ScreeningRun.objects.filter(pk=run_id, patient=patient).first()
        if run is None:
            raise NotFoundError("no such screening run")
        latest = ScreeningRun.objects.filter(patient=patient).first()
        if latest is None or latest.pk != run.pk:
            raise ConflictError("the intake changed: review the latest screening result")
        finding = next((f for f in run.findings if f["code"] == finding_code), None)
        if finding is None:
            raise ValidationFailed({"finding_code": [f"{finding_code!r} is not a finding of this screening"]})
        if finding["level"] == "caution":
            raise ValidationFailed({"finding_code": ["caution findings do not need a decision"]})
        if FindingReview.objects.filter(run=run, finding_code=finding_code).exists():
            raise ConflictError(f"{finding_code} has already been reviewed")
        absolute = finding["level"] == "absolute"
        if absolute and not is_sentence(reason):
            raise ValidationFailed(
                {"reason": ["overriding an absolute contraindication needs at least one full sentence"]}
            )
        if not reason:
            raise ValidationFailed({"reason": ["a written reason is required"]})
        review = FindingReview.objects.create(
            run=run,
            finding_code=finding_code,
            reason=reason,
            prescriber=actor,
            created_at=timezone.now(),
            kind=FindingReview.Kind.OVERRIDE_ABSOLUTE if absolute else FindingReview.Kind.CLEAR_RELATIVE,
        )
        record_audit(
            actor=actor,
            action="screening.override_propose" if absolute else "screening.clear",
            obj=review,
            patient=patient,
            request=request,
            detail={"run": run.pk, "finding": finding_code, "level": finding["level"], "reason": reason},
        )
    return review


def do_cosign_override(
    *, actor: Any, patient_id: int, review_id: int, request: HttpRequest | None = None
) -> FindingReview:
    """A second, different prescriber co-signs an absolute-finding override."""
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_DECIDE, audit_action=None, request=request, for_update=True
        )
        review = FindingReview.objects.select_for_update().filter(pk=review_id, run__patient=patient).first()
        if review is None:
            raise NotFoundError("no such review")
        if review.kind != FindingReview.Kind.OVERRIDE_ABSOLUTE:
            raise ConflictError("only absolute-finding overrides need a co-signature")
        if review.cosigned_at is not None:
            raise ConflictError("already co-signed")
        if review.prescriber_id == actor.pk:
            raise PermissionDeniedError("the co-signature must come from a different prescriber")
        review.cosigned_by, review.cosigned_at = actor, timezone.now()
        review.save(update_fields=["cosigned_by", "cosigned_at"])
        record_audit(
            actor=actor,
            action="screening.override_cosign",
            obj=review,
            patient=patient,
            request=request,
            detail={"finding": review.finding_code, "proposed_by": review.prescriber_id},
        )
    return review


# ------------------------------------------------------------------------------------------ consent


@functools.cache
def approvals() -> dict[str, Any]:
    text = (
        resources.files("ketaclinic.web.screening")
        .joinpath("data", "approvals.yaml")
        .read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text)
    validate_approvals(data)
    return data


def validate_approvals(data: Any) -> None:
    """Fail loudly on a malformed approvals file: every approval lists known indications and has a source."""
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict) or not data.get("version"):
        raise ValueError("approvals.yaml: version and products required")
    known = data.get("indications")
    if not isinstance(known, dict) or not known:
        raise ValueError("approvals.yaml: indications required")
    for pid, prod in data["products"].items():
        if not isinstance(prod, dict) or not prod.get("label") or not isinstance(prod.get("approvals"), dict):
            raise ValueError(f"approvals.yaml: products.{pid}: label and approvals required")
        for country, ap in prod["approvals"].items():
            where = f"approvals.yaml: products.{pid}.approvals.{country}"
            if country not in ("US", "UK", "AU"):
                raise ValueError(f"{where}: country must be US, UK or AU")
            if not isinstance(ap, dict) or not isinstance(ap.get("indications"), list):
                raise ValueError(f"{where}: indications list required")
            unknown = [i for i in ap["indications"] if i not in known]
            if unknown:
                raise ValueError(f"{where}: unknown indications {unknown}")
            if not str(ap.get("source") or "").strip():
                raise ValueError(f"{where}: source required")


def off_label_notice(*, indication: str, product: str, country: str) -> tuple[bool, str]:
    data = approvals()
    prod = data["products"][product]
    ind_label = data["indications"][indication]
    approval = prod["approvals"].get(country)
    if approval is None:
        return True, (
            f"The approval status of {prod['label']} in {country} is not on file: treat the use for "
            f"{ind_label.lower()} as off-label until verified."
        )
    if indication in approval["indications"]:
        return False, ""
    return True, (
        f"{prod['label']} is not approved in {country} for {ind_label.lower()}: this use is off-label. "
        f"Source: {approval['source']}"
    )


def do_record_consent(
    *,
    actor: Any,
    patient_id: int,
    indication: str,
    product: str,
    course_ref: str = "",
    patient_acknowledged_off_label: bool = False,
    request: HttpRequest | None = None,
) -> Consent:
    """Record informed consent for a course; an off-label use needs the patient's acknowledgement of the notice."""
    data = approvals()
    errors: dict[str, list[str]] = {}
    if indication not in data["indications"]:
        errors["indication"] = [f"must be one of {', '.join(data['indications'])}"]
    if product not in data["products"]:
        errors["product"] = [f"must be one of {', '.join(data['products'])}"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.COURSE_MANAGE, audit_action=None, request=request, for_update=True
        )
        site = patient.home_site or patient.clinic.sites.order_by("pk").first()
        country = site.country if site is not None else "??"
        off_label, notice = off_label_notice(indication=indication, product=product, country=country)
        if off_label and not patient_acknowledged_off_label:
            raise ValidationFailed({"patient_acknowledged_off_label": [f"required: {notice}"]})
        consent = Consent.objects.create(
            patient=patient,
            course_ref=course_ref,
            indication=indication,
            product=product,
            jurisdiction=site.jurisdiction if site is not None else "",
            off_label=off_label,
            notice=notice,
            patient_acknowledged_off_label=patient_acknowledged_off_label,
            recorded_by=actor,
            signed_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action="screening.consent_record",
            obj=consent,
            patient=patient,
            request=request,
            detail={"indication": indication, "product": product, "off_label": off_label},
        )
    return consent
