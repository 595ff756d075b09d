"""Remote links: one-use signed links a patient answers a questionnaire through, and their answers."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.instruments import (
    Instrument,
    load_instrument,
    score,
)
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.assessments.actions.common import (
    LINK_SALT,
    MAX_LINK_HOURS,
    REMOTE_INSTRUMENTS,
    _instrument,
    item_errors,
)
from ketaclinic.web.assessments.actions.records import _after_store, _store
from ketaclinic.web.assessments.models import (
    Assessment,
    Context,
    RemoteLink,
    RemoteSchedule,
    Source,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient


def link_token(link: RemoteLink) -> str:
    return signing.dumps({"l": link.pk, "n": link.nonce}, salt=LINK_SALT, compress=True)


def link_url(link: RemoteLink) -> str:
    return reverse("assessments:remote", kwargs={"token": link_token(link)})


def _new_link(
    *,
    patient: Patient,
    defn: Instrument,
    available_from: dt.datetime,
    valid_hours: int,
    actor: User | None,
    schedule: RemoteSchedule | None,
    context: str,
) -> RemoteLink:
    return RemoteLink.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        instrument_id=defn.id,
        nonce=secrets.token_urlsafe(24),
        context=context,
        available_from=available_from,
        expires_at=available_from + dt.timedelta(hours=valid_hours),
        created_by=actor,
        schedule=schedule,
    )


def create_followup_link(
    *, patient: Patient, instrument_id: str, available_from: dt.datetime, valid_hours: int, actor: User
) -> RemoteLink:
    """A personal follow-up link that opens later (another app's follow-up schedule); the caller audits it
    inside its own transaction."""
    defn = load_instrument(instrument_id)
    if instrument_id not in REMOTE_INSTRUMENTS:
        raise ValidationFailed(
            {"instrument": [f"{defn.short_title} cannot be sent as a remote questionnaire"]}
        )
    return _new_link(
        patient=patient,
        defn=defn,
        available_from=available_from,
        valid_hours=valid_hours,
        actor=actor,
        schedule=None,
        context=Context.FOLLOW_UP,
    )


def _valid_hours(value: Any, errors: dict[str, list[str]], key: str = "valid_hours") -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        errors[key] = ["must be a whole number of hours"]
        return 0
    if not 1 <= hours <= MAX_LINK_HOURS:
        errors[key] = [f"must be between 1 and {MAX_LINK_HOURS} hours"]
    return hours


def do_create_remote_link(
    *,
    actor: User,
    patient_id: int,
    instrument_id: Any,
    valid_hours: Any = 72,
    request: HttpRequest | None = None,
) -> tuple[RemoteLink, str]:
    """Create a personal link for one patient and one instrument; returns the link and its URL path."""
    errors: dict[str, list[str]] = {}
    defn = _instrument(instrument_id, errors, remote=True)
    hours = _valid_hours(valid_hours, errors)
    if errors:
        raise ValidationFailed(errors)
    assert defn is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        link = _new_link(
            patient=patient,
            defn=defn,
            available_from=timezone.now(),
            valid_hours=hours,
            actor=actor,
            schedule=None,
            context=Context.FOLLOW_UP,
        )
        record_audit(
            actor=actor,
            action=AuditAction.REMOTE_LINK_CREATE,
            obj=link,
            patient=patient,
            request=request,
            detail={"instrument": defn.id, "expires_at": link.expires_at.isoformat()},
        )
    return link, link_url(link)


def do_revoke_remote_link(*, actor: User, link_id: int, request: HttpRequest | None = None) -> RemoteLink:
    with transaction.atomic():
        link = RemoteLink.objects.select_for_update().filter(pk=link_id).first()
        if link is None:
            raise NotFoundError("no such link")
        access_patient_by_id(
            actor, link.patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        if link.used_at is not None:
            raise ConflictError("the link has already been answered")
        if link.revoked_at is not None:
            raise ConflictError("the link is already revoked")
        link.revoked_at = timezone.now()
        link.revoked_by = actor
        link.save(update_fields=["revoked_at", "revoked_by"])
        record_audit(
            actor=actor,
            action=AuditAction.REMOTE_LINK_REVOKE,
            obj=link,
            patient=link.patient,
            request=request,
        )
    return link


class LinkUnavailable(ConflictError):
    """The link cannot be answered now; `reason` is one of invalid, revoked, answered, expired, scheduled."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def resolve_link(token: str, *, for_update: bool = False) -> RemoteLink:
    """The link a token names, or LinkUnavailable. Checks the signature, nonce, revocation, use and expiry."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        raise LinkUnavailable("invalid", "This link is not valid.") from None
    if not isinstance(data, dict):
        raise LinkUnavailable("invalid", "This link is not valid.")
    qs = RemoteLink.objects.select_related("patient", "clinic")
    if for_update:
        qs = qs.select_for_update()
    link_id = data.get("l")
    link = None if link_id is None else qs.filter(pk=link_id, nonce=data.get("n")).first()
    if link is None:
        raise LinkUnavailable("invalid", "This link is not valid.")
    status = link.status_at(timezone.now())
    messages = {
        "revoked": "This link has been withdrawn by your clinic.",
        "answered": "This questionnaire has already been answered. Thank you.",
        "expired": "This link has expired. Please contact your clinic for a new one.",
        "scheduled": f"This questionnaire opens on {timezone.localtime(link.available_from):%Y-%m-%d %H:%M}.",
    }
    if status != "open":
        raise LinkUnavailable(status, messages[status])
    return link


def do_submit_remote_answers(*, token: str, answers: Any, request: HttpRequest | None = None) -> Assessment:
    """The patient answers through the link (no login). All items must be answered; the link is then used."""
    with transaction.atomic():
        link = resolve_link(token, for_update=True)
        defn = load_instrument(link.instrument_id)
        if not isinstance(answers, list | tuple):
            raise ValidationFailed({"answers": ["must be a list of item values"]})
        errors = item_errors(defn, answers)
        if errors:
            raise ValidationFailed(errors)
        result = score(defn, list(answers))
        if not result.complete:
            raise ValidationFailed(
                {f"item_{code}": ["please answer this question"] for code in result.missing_items}
            )
        now = timezone.now()
        a = _store(
            patient=link.patient,
            defn=defn,
            result=result,
            context=link.context,
            assessed_at=now,
            source=Source.REMOTE,
            recorded_by=None,
            remote_link=link,
        )
        link.used_at = now
        link.assessment = a
        link.save(update_fields=["used_at", "assessment"])
        _after_store(a, defn, result, actor=None, request=request)
    return a
