"""Writes of long-term safety surveillance: lab results (entered or imported), alert decisions, clinic settings.

Each action validates every field, runs in one transaction and writes its audit record in it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.core.surveillance import (
    ALERT_CODES,
    LabFact,
    SettingsError,
    apply_overrides,
    check_lab,
    lab_observation,
    parse_lab_bundle,
)
from ketaclinic.web.access import access_clinic_by_id, access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.surveillance.models import (
    ClinicSurveillanceSettings,
    FollowUp,
    LabResult,
    SurveillanceDecision,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient
    from ketaclinic.web.treatment.models import TreatmentCourse


FUTURE_TOLERANCE = dt.timedelta(minutes=5)
#: A follow-up link stays open three days from its day (configurable default [R]).
FOLLOWUP_LINK_HOURS = 72
#: The personal link asks the craving rating (a patient may answer it remotely); the nurse's call records the SDS.
FOLLOWUP_INSTRUMENT = "craving"
MAX_BUNDLE_RESULTS = 500


def _store_lab(*, actor: User, patient: Patient, fact: LabFact, source: str) -> LabResult:
    lab = LabResult.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        loinc=fact.loinc,
        value_number=fact.value_number,
        value_text=fact.value_text,
        unit=fact.unit,
        reference_low=fact.reference_low,
        reference_high=fact.reference_high,
        taken_at=fact.taken_at,
        source=source,
        recorded_by=actor,
        fhir_observation={},
    )
    lab.fhir_observation = require_valid(
        lab_observation(fact, observation_id=f"lab-{lab.pk}", patient_id=str(patient.pk))
    )
    lab.save(update_fields=["fhir_observation"])
    return lab


def _not_future(fact: LabFact, field: str, errors: dict[str, list[str]]) -> None:
    if fact.taken_at > timezone.now() + FUTURE_TOLERANCE:
        errors[field] = ["must not be in the future"]


def do_record_lab_result(
    *,
    actor: User,
    patient_id: int,
    loinc: Any,
    value: Any,
    taken_at: Any,
    unit: Any = "",
    reference_low: Any = None,
    reference_high: Any = None,
    request: HttpRequest | None = None,
) -> LabResult:
    """Staff enter one laboratory result (urine dipstick, ALT, AST) with the lab's reference range."""
    fact, issues = check_lab(
        loinc=loinc,
        value=value,
        taken_at=taken_at,
        unit=unit,
        reference_low=reference_low,
        reference_high=reference_high,
    )
    errors = {k: [v] for k, v in issues.items()}
    if fact is not None:
        _not_future(fact, "taken_at", errors)
    if errors or fact is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        lab = _store_lab(actor=actor, patient=patient, fact=fact, source=LabResult.Source.STAFF)
        record_audit(
            actor=actor,
            action=AuditAction.LAB_RESULT_RECORD,
            obj=lab,
            patient=patient,
            request=request,
            detail={"loinc": lab.loinc, "value": lab.value_text or str(lab.value_number)},
        )
    return lab


def do_import_lab_bundle(
    *, actor: User, patient_id: int, bundle: Any, request: HttpRequest | None = None
) -> list[LabResult]:
    """Import the supported laboratory Observations of a FHIR Bundle: all of them or, on any problem, none."""
    facts, issues = parse_lab_bundle(bundle)
    errors: dict[str, list[str]] = {}
    for issue in issues:
        errors.setdefault(issue.path, []).append(issue.message)
    for k, fact in enumerate(facts):
        _not_future(fact, f"result {k + 1} effectiveDateTime", errors)
    if not facts and not errors:
        errors["bundle"] = ["contains no urine dipstick, ALT or AST Observation"]
    if len(facts) > MAX_BUNDLE_RESULTS:
        errors["bundle"] = [f"at most {MAX_BUNDLE_RESULTS} results per import"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        labs = [
            _store_lab(actor=actor, patient=patient, fact=f, source=LabResult.Source.FHIR_IMPORT)
            for f in facts
        ]
        record_audit(
            actor=actor,
            action=AuditAction.LAB_RESULT_IMPORT,
            obj=patient,
            request=request,
            detail={"results": [lab.pk for lab in labs]},
        )
    return labs


def do_record_surveillance_decision(
    *,
    actor: User,
    patient_id: int,
    alert_code: Any,
    decision: Any,
    reason: Any,
    request: HttpRequest | None = None,
) -> SurveillanceDecision:
    """A prescriber records a decision (continue, reduce, pause, refer) with a reason on an open alert."""
    from ketaclinic.web.surveillance.selectors import evaluate_patient

    errors: dict[str, list[str]] = {}
    if alert_code not in ALERT_CODES:
        errors["alert_code"] = ["is not a surveillance alert"]
    if decision not in SurveillanceDecision.Decision.values:
        errors["decision"] = [
            "must be one of: " + ", ".join(str(label) for label in SurveillanceDecision.Decision.labels)
        ]
    reason_text = str(reason or "").strip()
    if not reason_text:
        errors["reason"] = ["give the reason for the decision"]
    elif len(reason_text) > 4000:
        errors["reason"] = ["must be at most 4000 characters"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(actor, patient_id, audit_action=None, request=request, for_update=True)
        require_perm(actor, patient.clinic_id, Perm.ALERT_ACKNOWLEDGE)
        alert = next((f for f in evaluate_patient(patient).open_alerts if f.code == alert_code), None)
        if alert is None:
            raise ConflictError("this alert is not open (already decided, or no longer raised)")
        d = SurveillanceDecision.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            alert_code=alert.code,
            evidence=list(alert.evidence),
            alert_message=alert.message,
            decision=decision,
            reason=reason_text,
            decided_by=actor,
            decided_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.SURVEILLANCE_DECISION_RECORD,
            obj=d,
            patient=patient,
            request=request,
            detail={"alert": alert.code, "decision": decision, "reason": reason_text, "evidence": d.evidence},
        )
    return d


def do_set_surveillance_settings(
    *, actor: User, clinic_id: int, protocol_id: Any, overrides: Any, request: HttpRequest | None = None
) -> ClinicSurveillanceSettings:
    """A clinic admin sets the clinic's overrides of the shipped schedule (for one protocol, or all)."""
    protocol = str(protocol_id or "").strip()
    errors: dict[str, list[str]] = {}
    if len(protocol) > 80:
        errors["protocol_id"] = ["must be at most 80 characters"]
    try:
        apply_overrides(overrides)
    except SettingsError as exc:
        errors[exc.field] = [exc.reason]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        clinic = access_clinic_by_id(actor, clinic_id, perm=Perm.CLINIC_ADMIN)
        row, _ = ClinicSurveillanceSettings.objects.select_for_update().get_or_create(
            clinic=clinic,
            protocol_id=protocol,
            defaults={"overrides": {}, "updated_by": actor, "updated_at": timezone.now()},
        )
        before = row.overrides
        row.overrides = overrides
        row.updated_by = actor
        row.updated_at = timezone.now()
        row.save()
        record_audit(
            actor=actor,
            action=AuditAction.SURVEILLANCE_SETTINGS_UPDATE,
            obj=row,
            clinic=clinic,
            request=request,
            detail={"protocol_id": protocol, "before": before, "after": overrides},
        )
    return row


def create_followups(
    course: TreatmentCourse, actor: User, request: HttpRequest | None = None
) -> list[FollowUp]:
    """Course-end hook (run in the course-end transaction): one personal craving link per follow-up day of the
    clinic's schedule (7 and 28 days by default), each opening on its day."""
    from ketaclinic.web.assessments.actions import create_followup_link
    from ketaclinic.web.surveillance.selectors import settings_for

    ended_at = course.ended_at
    if ended_at is None:
        raise ConflictError("follow-ups start when the course has ended")
    settings = settings_for(course.clinic_id, course.protocol_id)
    made: list[FollowUp] = []
    for point in settings.followups.points:
        link = create_followup_link(
            patient=course.patient,
            instrument_id=FOLLOWUP_INSTRUMENT,
            available_from=ended_at + dt.timedelta(days=point.day),
            valid_hours=FOLLOWUP_LINK_HOURS,
            actor=actor,
        )
        fu = FollowUp.objects.create(
            clinic_id=course.clinic_id, patient=course.patient, course=course, day=point.day, link=link
        )
        record_audit(
            actor=actor,
            action=AuditAction.SAFETY_FOLLOWUP_CREATE,
            obj=fu,
            patient=course.patient,
            request=request,
            detail={"day": point.day, "link": link.pk, "opens": link.available_from.isoformat()},
        )
        made.append(fu)
    return made


def do_close_followup_task(
    *, actor: User, followup_id: int, note: Any, request: HttpRequest | None = None
) -> FollowUp:
    """A nurse closes an unanswered follow-up's task after calling the patient, saying what was done."""
    note_text = str(note or "").strip()
    if not note_text:
        raise ValidationFailed({"note": ["say what was done (e.g. called, SDS recorded)"]})
    if len(note_text) > 4000:
        raise ValidationFailed({"note": ["must be at most 4000 characters"]})
    with transaction.atomic():
        fu = FollowUp.objects.select_for_update().select_related("link").filter(pk=followup_id).first()
        if fu is None:
            raise NotFoundError("no such follow-up")
        patient = access_patient_by_id(
            actor, fu.patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        if fu.task_closed_at is not None:
            raise ConflictError("this follow-up task is already closed")
        if fu.link.used_at is not None:
            raise ConflictError("the patient answered this follow-up; there is no task to close")
        fu.task_closed_at = timezone.now()
        fu.task_closed_by = actor
        fu.task_note = note_text
        fu.save(update_fields=["task_closed_at", "task_closed_by", "task_note"])
        record_audit(
            actor=actor,
            action=AuditAction.SAFETY_FOLLOWUP_CLOSE_TASK,
            obj=fu,
            patient=patient,
            request=request,
            detail={"day": fu.day, "note": note_text},
        )
    return fu
