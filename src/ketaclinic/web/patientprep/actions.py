"""Session-page writes: staff create or withdraw a patient's link; the patient confirms attendance and reflects after."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.patientprep.instructions import INTEGRATION_PROMPTS
from ketaclinic.web.patientprep.models import SessionLink, SessionReflection

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User

LINK_SALT = "ketaclinic.patientprep.session-link"
#: The page stays open this many days after the session, for the integration prompts.
DAYS_AFTER = 7
PATIENT_ACTOR = "patient (session page link)"


class LinkClosed(ConflictError):
    """The link cannot be used: invalid, withdrawn or expired (the message is for the patient)."""


def link_token(link: SessionLink) -> str:
    return signing.dumps({"s": link.pk, "n": link.nonce}, salt=LINK_SALT, compress=True)


def link_url(link: SessionLink) -> str:
    return reverse("patientprep:page", kwargs={"token": link_token(link)})


def resolve(token: str, *, for_update: bool = False) -> SessionLink:
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        raise LinkClosed("This link is not valid.") from None
    qs = SessionLink.objects.select_related(
        "patient", "clinic", "dosing_session", "dosing_session__course", "dosing_session__site"
    )
    if for_update:
        qs = qs.select_for_update(of=("self",))
    if not isinstance(data, dict):
        raise LinkClosed("This link is not valid.")
    link_id = data.get("s")
    link = None if link_id is None else qs.filter(pk=link_id, nonce=data.get("n")).first()
    if link is None:
        raise LinkClosed("This link is not valid.")
    if link.revoked_at is not None:
        raise LinkClosed("This link has been withdrawn by your clinic.")
    if timezone.now() >= link.expires_at:
        raise LinkClosed("This link has expired. Please contact your clinic.")
    return link


def do_create_session_link(
    *, actor: User, patient_id: int, dosing_session_id: int, request: HttpRequest | None = None
) -> tuple[SessionLink, str]:
    """A personal link to the page of one scheduled dosing session, open until DAYS_AFTER days after it."""
    from ketaclinic.web.treatment.selectors import sessions_for_patient

    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        session = (
            sessions_for_patient(patient).filter(pk=dosing_session_id).exclude(status="cancelled").first()
        )
        if session is None:
            raise ValidationFailed({"dosing_session": ["no such dosing session for this patient"]})
        expires = session.scheduled_for + dt.timedelta(days=DAYS_AFTER)
        if expires <= timezone.now():
            raise ValidationFailed(
                {"dosing_session": ["is more than a week ago: its page would already be closed"]}
            )
        SessionLink.objects.filter(dosing_session=session, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        link = SessionLink.objects.create(
            clinic=patient.clinic,
            patient=patient,
            dosing_session=session,
            nonce=secrets.token_urlsafe(24),
            expires_at=expires,
            created_by=actor,
            created_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.PATIENTPREP_LINK_CREATE,
            obj=link,
            patient=patient,
            request=request,
        )
    return link, link_url(link)


def do_confirm_attendance(
    *, token: str, attending: str, escort_name: str = "", request: HttpRequest | None = None
) -> SessionLink:
    """The patient says whether they will come, and who takes them home."""
    errors: dict[str, list[str]] = {}
    if attending not in ("attending", "cannot"):
        errors["attending"] = ["Please choose whether you will come."]
    escort_name = escort_name.strip()
    if len(escort_name) > 150:
        errors["escort_name"] = ["Please use at most 150 characters."]
    with transaction.atomic():
        link = resolve(token, for_update=True)
        if link.dosing_session.first_dose_at is not None:
            raise LinkClosed("Your session has already taken place.")
        if (
            attending == "attending"
            and link.dosing_session.course.protocol_snapshot.get("pre_dose", {}).get(
                "transport_home_required"
            )
            and not escort_name
        ):
            errors["escort_name"] = [
                "Please tell us who will take you home: you cannot drive after the session."
            ]
        if errors:
            raise ValidationFailed(errors)
        link.attendance = attending
        link.attendance_at = timezone.now()
        link.escort_name = escort_name if attending == "attending" else ""
        link.save(update_fields=["attendance", "attendance_at", "escort_name"])
        record_audit(
            actor=PATIENT_ACTOR,
            action=AuditAction.PATIENTPREP_ATTENDANCE,
            obj=link,
            patient=link.patient,
            request=request,
            detail={"attendance": attending},
        )
    return link


def do_submit_reflection(
    *, token: str, answers: dict[str, str], request: HttpRequest | None = None
) -> SessionReflection:
    """The patient's answers to the integration prompts, after the session."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, _text, kind in INTEGRATION_PROMPTS:
        raw = (answers.get(key) or "").strip()
        if kind == "scale":
            if not raw.isdigit() or not 0 <= int(raw) <= 10:
                errors[key] = ["Please choose a number from 0 to 10."]
            else:
                clean[key] = int(raw)
        else:
            if len(raw) > 2000:
                errors[key] = ["Please use at most 2000 characters."]
            clean[key] = raw
    with transaction.atomic():
        link = resolve(token, for_update=True)
        if link.dosing_session.first_dose_at is None:
            raise LinkClosed("These questions open after your session.")
        if errors:
            raise ValidationFailed(errors)
        reflection = SessionReflection.objects.create(link=link, answers=clean, submitted_at=timezone.now())
        record_audit(
            actor=PATIENT_ACTOR,
            action=AuditAction.PATIENTPREP_REFLECTION,
            obj=reflection,
            patient=link.patient,
            request=request,
        )
    return reflection


def do_revoke_session_link(*, actor: User, link_id: int, request: HttpRequest | None = None) -> SessionLink:
    with transaction.atomic():
        link = SessionLink.objects.select_for_update().filter(pk=link_id).first()
        if link is None:
            raise NotFoundError("no such link")
        patient = access_patient_by_id(
            actor, link.patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        if link.revoked_at is not None:
            raise ConflictError("this link is already withdrawn")
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor,
            action=AuditAction.PATIENTPREP_LINK_REVOKE,
            obj=link,
            patient=patient,
            request=request,
        )
    return link
