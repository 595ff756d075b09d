"""Telehealth writes: schedule a visit under the jurisdiction rules, close it, consent to telehealth, licences, policy."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.telehealth import VisitError, evaluate, parse_policy
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.clinics.jurisdictions import JURISDICTIONS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed, failed_from_core
from ketaclinic.web.telehealth import selectors
from ketaclinic.web.telehealth.models import ClinicianLicence, TelehealthConsent, TelehealthPolicy, Visit

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic

#: The visit field a refusing finding is about, so the form shows the reason beside it.
FINDING_FIELDS: dict[str, str] = {
    "us_state_licensure": "clinician",
    "uk_registration": "clinician",
    "au_registration": "clinician",
    "uk_remote_controlled_drug_records": "records_access",
    "telehealth_consent_missing": "consent",
}
MAX_NOTE = 2000


def _finding_field(code: str) -> str:
    return FINDING_FIELDS.get(code.removesuffix("_unconfirmed"), "modality")


def _video_link_errors(modality: str, link: str) -> list[str]:
    if modality != Visit.Modality.VIDEO:
        return ["only a video visit has a video link"] if link else []
    if not link:
        return ["required for a video visit: the link of the clinic's video tool"]
    parsed = urlparse(link)
    if len(link) > 500 or parsed.scheme != "https" or not parsed.netloc or any(c.isspace() for c in link):
        return ["must be an https:// address of at most 500 characters"]
    return []


def do_schedule_visit(
    *,
    actor: User,
    patient_id: int,
    clinician_id: int | None,
    scheduled_for: dt.datetime | None,
    modality: str,
    patient_jurisdiction: str,
    activity: str,
    drug: str = "",
    video_link: str = "",
    records_access: bool | None = None,
    review_note: str = "",
    request: HttpRequest | None = None,
) -> Visit:
    """Schedule a visit after the telehealth rules decide on it.

    Not allowed: refused, each finding's message and source under the field it is about, nothing stored.
    Needs review: stored only with a written review note. Allowed: stored; info findings are kept with it.
    """
    from ketaclinic.web.accounts.models import User

    errors: dict[str, list[str]] = {}
    if modality not in Visit.Modality.values:
        errors["modality"] = ["must be in person, video or telephone"]
    if patient_jurisdiction not in JURISDICTIONS:
        errors["patient_jurisdiction"] = [
            "must be a US state, the United Kingdom or an Australian state or territory"
        ]
    if activity not in Visit.Activity.values:
        errors["activity"] = [f"must be one of {', '.join(Visit.Activity.labels)}"]
    if drug and drug not in Visit.Drug.values:
        errors["drug"] = ["must be ketamine, esketamine or empty"]
    if activity in (Visit.Activity.PRESCRIBE, Visit.Activity.ADMINISTER) and not drug:
        errors["drug"] = ["required for prescribing or a dosing session"]
    if scheduled_for is None:
        errors["scheduled_for"] = ["required date and time"]
    elif timezone.is_naive(scheduled_for):
        errors["scheduled_for"] = ["must carry a time zone"]
    link_errors = _video_link_errors(modality, video_link.strip())
    if link_errors:
        errors["video_link"] = link_errors
    if len(review_note) > MAX_NOTE:
        errors["review_note"] = [f"at most {MAX_NOTE} characters"]
    if errors:
        raise ValidationFailed(errors)
    assert scheduled_for is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor,
            patient_id,
            perm=Perm.TELEHEALTH_SCHEDULE,
            audit_action=None,
            request=request,
            for_update=True,
        )
        clinician = User.objects.filter(pk=clinician_id, is_active=True).first() if clinician_id else None
        if clinician is None or not has_perm_in_clinic(
            clinician, patient.clinic_id, Perm.TELEHEALTH_SCHEDULE
        ):
            raise ValidationFailed({"clinician": ["must be a clinician of this clinic"]})
        engine_visit, consent = selectors.visit_inputs(
            patient=patient,
            clinician=clinician,
            scheduled_for=scheduled_for,
            modality=modality,
            jurisdiction=patient_jurisdiction,
            activity=activity,
            drug=drug,
            records_access=records_access,
        )
        result = evaluate(engine_visit, policy=selectors.telehealth_policy_for(patient.clinic))
        if result.decision == "not_allowed":
            refused: dict[str, list[str]] = {}
            for f in result.findings:
                if f.level == "block":
                    refused.setdefault(_finding_field(f.code), []).append(f"{f.message} (source: {f.source})")
            raise ValidationFailed(
                refused, message="Not allowed: " + "; ".join(r[0] for r in refused.values())
            )
        if result.decision == "needs_review" and not review_note.strip():
            reasons = [f.message for f in result.findings if f.level == "review"]
            raise ValidationFailed(
                {"review_note": ["required: this visit needs review (" + "; ".join(reasons) + ")"]}
            )
        now = timezone.now()
        visit = Visit.objects.create(
            clinic=patient.clinic,
            patient=patient,
            clinician=clinician,
            scheduled_for=scheduled_for,
            modality=modality,
            patient_jurisdiction=patient_jurisdiction,
            activity=activity,
            drug=drug,
            video_link=video_link.strip(),
            consent=consent,
            records_access=records_access,
            decision=result.decision,
            findings=[f.to_dict() for f in result.findings],
            result=result.to_record(),
            ruleset_version=result.ruleset_version,
            review_note=review_note.strip(),
            created_by=actor,
            created_at=now,
        )
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_VISIT_SCHEDULE,
            obj=visit,
            patient=patient,
            request=request,
            detail={"decision": result.decision, "ruleset": result.ruleset_version, "modality": modality},
        )
    return visit


def _visit_for_update(actor: User, visit_id: int, request: HttpRequest | None) -> Visit:
    visit = Visit.objects.select_for_update().filter(pk=visit_id).first()
    from ketaclinic.web.lib.errors import NotFoundError

    if visit is None:
        raise NotFoundError("no such visit")
    access_patient_by_id(
        actor, visit.patient_id, perm=Perm.TELEHEALTH_SCHEDULE, audit_action=None, request=request
    )
    if visit.status != Visit.Status.SCHEDULED:
        raise ConflictError(f"the visit is already {visit.get_status_display().lower()}")
    return visit


def do_close_visit(
    *, actor: User, visit_id: int, completed: bool, reason: str = "", request: HttpRequest | None = None
) -> Visit:
    """Mark a scheduled visit completed (a completed in-person evaluation then counts for the rules) or cancelled."""
    reason = reason.strip()
    if not completed and not reason:
        raise ValidationFailed({"reason": ["required to cancel a visit"]})
    if len(reason) > 300:
        raise ValidationFailed({"reason": ["at most 300 characters"]})
    with transaction.atomic():
        visit = _visit_for_update(actor, visit_id, request)
        visit.status = Visit.Status.COMPLETED if completed else Visit.Status.CANCELLED
        visit.closed_at = timezone.now()
        visit.closed_by = actor
        visit.cancel_reason = "" if completed else reason
        visit.save(update_fields=["status", "closed_at", "closed_by", "cancel_reason"])
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_VISIT_COMPLETE
            if completed
            else AuditAction.TELEHEALTH_VISIT_CANCEL,
            obj=visit,
            patient=visit.patient,
            request=request,
            detail={"reason": reason} if reason else {},
        )
    return visit


def do_record_telehealth_consent(
    *, actor: User, patient_id: int, method: str, request: HttpRequest | None = None
) -> TelehealthConsent:
    """Record the patient's consent to telehealth, given now."""
    if method not in TelehealthConsent.Method.values:
        raise ValidationFailed({"method": ["must be written, verbal (witnessed by staff) or electronic"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor,
            patient_id,
            perm=Perm.TELEHEALTH_SCHEDULE,
            audit_action=None,
            request=request,
            for_update=True,
        )
        consent = TelehealthConsent.objects.create(
            clinic=patient.clinic, patient=patient, method=method, given_at=timezone.now(), recorded_by=actor
        )
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_CONSENT_RECORD,
            obj=consent,
            patient=patient,
            request=request,
            detail={"method": method},
        )
    return consent


def do_withdraw_telehealth_consent(
    *, actor: User, consent_id: int, request: HttpRequest | None = None
) -> TelehealthConsent:
    """The patient withdraws consent to telehealth: from now on remote visits have no consent on file."""
    from ketaclinic.web.lib.errors import NotFoundError

    with transaction.atomic():
        consent = TelehealthConsent.objects.select_for_update().filter(pk=consent_id).first()
        if consent is None:
            raise NotFoundError("no such consent")
        patient = access_patient_by_id(
            actor, consent.patient_id, perm=Perm.TELEHEALTH_SCHEDULE, audit_action=None, request=request
        )
        if consent.withdrawn_at is not None:
            raise ConflictError("this consent is already withdrawn")
        consent.withdrawn_at = timezone.now()
        consent.withdrawn_by = actor
        consent.save(update_fields=["withdrawn_at", "withdrawn_by"])
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_CONSENT_WITHDRAW,
            obj=consent,
            patient=patient,
            request=request,
        )
    return consent


def do_set_telehealth_policy(
    *, actor: User, clinic: Clinic, policy: dict[str, Any], request: HttpRequest | None = None
) -> TelehealthPolicy:
    """Set the clinic's tightening policy (clinic admin). The policy can only tighten the rules."""
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    try:
        parsed = parse_policy(policy)
    except VisitError as exc:
        raise failed_from_core(exc, field=exc.field.removeprefix("policy.")) from None
    with transaction.atomic():
        row, _ = TelehealthPolicy.objects.select_for_update().update_or_create(
            clinic=clinic,
            defaults={"policy": parsed.to_dict(), "updated_by": actor, "updated_at": timezone.now()},
        )
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_POLICY_SET,
            obj=row,
            clinic=clinic,
            request=request,
            detail=parsed.to_dict(),
        )
    return row


def do_record_clinician_licence(
    *,
    actor: User,
    clinic: Clinic,
    user_id: int | None,
    jurisdiction: str,
    number: str = "",
    expires_on: dt.date | None = None,
    request: HttpRequest | None = None,
) -> ClinicianLicence:
    """Record where a clinician of the clinic is licensed or registered (clinic admin)."""
    from ketaclinic.web.accounts.models import User

    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    errors: dict[str, list[str]] = {}
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not has_perm_in_clinic(user, clinic, Perm.TELEHEALTH_SCHEDULE):
        errors["user"] = ["must be a clinician of this clinic"]
    if jurisdiction not in JURISDICTIONS:
        errors["jurisdiction"] = [
            "must be a US state, the United Kingdom or an Australian state or territory"
        ]
    if len(number) > 64:
        errors["number"] = ["at most 64 characters"]
    if expires_on is not None and expires_on < timezone.localdate():
        errors["expires_on"] = ["is in the past"]
    if errors or user is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        if ClinicianLicence.objects.filter(clinic=clinic, user=user, jurisdiction=jurisdiction).exists():
            raise ValidationFailed({"jurisdiction": ["this clinician's licence there is already on file"]})
        lic = ClinicianLicence.objects.create(
            clinic=clinic,
            user=user,
            jurisdiction=jurisdiction,
            number=number.strip(),
            expires_on=expires_on,
            recorded_by=actor,
            recorded_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.TELEHEALTH_LICENCE_RECORD,
            obj=lic,
            clinic=clinic,
            request=request,
            detail={"jurisdiction": jurisdiction},
        )
    return lic
