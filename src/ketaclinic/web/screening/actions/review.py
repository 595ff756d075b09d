"""Review of screening findings: a clinician's acknowledgement or override and its co-signature."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.screening.models import FindingReview, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User

_SENTENCE = re.compile(r"\b\w+\b.*\b\w+\b.*\b\w+\b.*[.!?]\s*$", re.S)


def is_sentence(text: str) -> bool:
    """At least one full sentence: three or more words ending with . ! or ?"""
    return bool(_SENTENCE.search(text.strip()))


def do_review_finding(
    *,
    actor: User,
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
            action=AuditAction.SCREENING_OVERRIDE_PROPOSE if absolute else AuditAction.SCREENING_CLEAR,
            obj=review,
            patient=patient,
            request=request,
            detail={"run": run.pk, "finding": finding_code, "level": finding["level"], "reason": reason},
        )
    return review


def do_cosign_override(
    *, actor: User, patient_id: int, review_id: int, request: HttpRequest | None = None
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
            action=AuditAction.SCREENING_OVERRIDE_COSIGN,
            obj=review,
            patient=patient,
            request=request,
            detail={"finding": review.finding_code, "proposed_by": review.prescriber_id},
        )
    return review
