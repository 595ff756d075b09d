"""Therapy writes: record a session (and its psychotherapy note), share a note, the patient's notes authorisation, settings."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id, access_psychotherapy_note_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.therapy import selectors
from ketaclinic.web.therapy.models import (
    NotesAuthorisation,
    PsychotherapyNote,
    PsychotherapyNoteShare,
    TherapySession,
    TherapySettings,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic

MAX_TEXT = 4000
MAX_NOTE = 20000


def _rating(value: int | None, field: str, errors: dict[str, list[str]]) -> None:
    if value is not None and not 0 <= value <= 10:
        errors[field] = ["must be a whole number from 0 to 10"]


def do_record_therapy_session(
    *,
    actor: User,
    patient_id: int,
    kind: str,
    approach: str,
    modality: str,
    held_at: dt.datetime | None,
    duration_min: int | None,
    dosing_session_id: int | None = None,
    intention: str = "",
    themes: str = "",
    plan: str = "",
    wellbeing: int | None = None,
    session_rating: int | None = None,
    safety_concern: bool = False,
    note_text: str = "",
    request: HttpRequest | None = None,
) -> TherapySession:
    """Record a session held by `actor`. Preparation comes before its dosing session; integration after it,
    within the clinic's window. A psychotherapy note, if written, is stored apart, visible only to `actor`."""
    from ketaclinic.web.treatment.selectors import sessions_for_patient as dosing_sessions

    errors: dict[str, list[str]] = {}
    if kind not in TherapySession.Kind.values:
        errors["kind"] = ["must be preparation, integration or psychotherapy"]
    if approach not in TherapySession.Approach.values:
        errors["approach"] = [f"must be one of {', '.join(TherapySession.Approach.labels)}"]
    if modality not in TherapySession.Modality.values:
        errors["modality"] = ["must be in person, video or telephone"]
    if held_at is None:
        errors["held_at"] = ["required date and time"]
    elif timezone.is_naive(held_at):
        errors["held_at"] = ["must carry a time zone"]
    elif held_at > timezone.now() + dt.timedelta(minutes=5):
        errors["held_at"] = ["is in the future: record a session once it has happened"]
    if duration_min is None or not 5 <= duration_min <= 480:
        errors["duration_min"] = ["must be from 5 to 480 minutes"]
    for name, text in (("intention", intention), ("themes", themes), ("plan", plan)):
        if len(text) > MAX_TEXT:
            errors[name] = [f"at most {MAX_TEXT} characters"]
    if len(note_text) > MAX_NOTE:
        errors["note_text"] = [f"at most {MAX_NOTE} characters"]
    _rating(wellbeing, "wellbeing", errors)
    _rating(session_rating, "session_rating", errors)
    if kind == TherapySession.Kind.PREPARATION and not intention.strip():
        errors["intention"] = ["required for a preparation session: the patient's intention"]
    if kind in (TherapySession.Kind.PREPARATION, TherapySession.Kind.INTEGRATION) and not dosing_session_id:
        errors["dosing_session"] = [f"required: a {kind} session belongs to a dosing session"]
    if errors:
        raise ValidationFailed(errors)
    assert held_at is not None and duration_min is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.THERAPY_RECORD, audit_action=None, request=request, for_update=True
        )
        dosing = None
        if dosing_session_id:
            dosing = dosing_sessions(patient).filter(pk=dosing_session_id).exclude(status="cancelled").first()
            if dosing is None:
                raise ValidationFailed({"dosing_session": ["no such dosing session for this patient"]})
            start = dosing.first_dose_at or dosing.scheduled_for
            if kind == TherapySession.Kind.PREPARATION and held_at >= start:
                raise ValidationFailed(
                    {
                        "held_at": [
                            f"a preparation session must be before the dosing session ({timezone.localtime(start):%Y-%m-%d %H:%M})"
                        ]
                    }
                )
            if kind == TherapySession.Kind.INTEGRATION:
                window = selectors.integration_window_days(patient.clinic)
                if not start < held_at <= start + dt.timedelta(days=window):
                    raise ValidationFailed(
                        {
                            "held_at": [
                                f"an integration session must be after the dosing session and within the clinic's "
                                f"window of {window} days ({timezone.localtime(start):%Y-%m-%d %H:%M} to "
                                f"{timezone.localtime(start + dt.timedelta(days=window)):%Y-%m-%d %H:%M})"
                            ]
                        }
                    )
        now = timezone.now()
        session = TherapySession.objects.create(
            clinic=patient.clinic,
            patient=patient,
            dosing_session=dosing,
            kind=kind,
            approach=approach,
            modality=modality,
            therapist=actor,
            held_at=held_at,
            duration_min=duration_min,
            intention=intention.strip(),
            themes=themes.strip(),
            plan=plan.strip(),
            wellbeing=wellbeing,
            session_rating=session_rating,
            safety_concern=safety_concern,
            recorded_by=actor,
            recorded_at=now,
        )
        record_audit(
            actor=actor,
            action=AuditAction.THERAPY_SESSION_RECORD,
            obj=session,
            patient=patient,
            request=request,
            detail={
                "kind": kind,
                "dosing_session": dosing.pk if dosing else None,
                "has_note": bool(note_text.strip()),
            },
        )
        if note_text.strip():
            note = PsychotherapyNote.objects.create(
                session=session, patient=patient, author=actor, text=note_text.strip(), created_at=now
            )
            record_audit(
                actor=actor,
                action=AuditAction.THERAPY_NOTE_CREATE,
                obj=note,
                patient=patient,
                request=request,
            )
    return session


def do_share_psychotherapy_note(
    *, actor: User, note_id: int, user_id: int | None, request: HttpRequest | None = None
) -> PsychotherapyNoteShare:
    """The note's author shares it with one colleague of the clinic. Only the author may share."""
    from ketaclinic.web.accounts.models import User

    with transaction.atomic():
        note = access_psychotherapy_note_by_id(actor, note_id, request=None)
        if note.author_id != actor.pk:
            raise PermissionDeniedError("only the note's author may share it")
        user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
        if user is None or not has_perm_in_clinic(user, note.patient.clinic_id, Perm.PATIENT_VIEW):
            raise ValidationFailed({"user": ["must be a colleague in this patient's clinic"]})
        if user.pk == actor.pk:
            raise ValidationFailed({"user": ["is the note's author"]})
        if note.shares.filter(user=user).exists():
            raise ValidationFailed({"user": ["already has this note"]})
        share = PsychotherapyNoteShare.objects.create(
            note=note, user=user, shared_by=actor, shared_at=timezone.now()
        )
        record_audit(
            actor=actor,
            action=AuditAction.THERAPY_NOTE_SHARE,
            obj=note,
            patient=note.patient,
            request=request,
            detail={"shared_with": user.pk},
        )
    return share


def do_record_notes_authorisation(
    *,
    actor: User,
    patient_id: int,
    recipient: str,
    purpose: str,
    signed_on: dt.date | None,
    expires_on: dt.date | None,
    request: HttpRequest | None = None,
) -> NotesAuthorisation:
    """The patient's signed authorisation to disclose psychotherapy notes (to a named recipient, for a purpose,
    until a date): while it is in force, exports include the notes the exporting user may see."""
    errors: dict[str, list[str]] = {}
    if not recipient.strip() or len(recipient) > 200:
        errors["recipient"] = ["required, at most 200 characters"]
    if not purpose.strip() or len(purpose) > 300:
        errors["purpose"] = ["required, at most 300 characters"]
    today = timezone.localdate()
    if signed_on is None:
        errors["signed_on"] = ["required date"]
    elif signed_on > today:
        errors["signed_on"] = ["is in the future"]
    if expires_on is None:
        errors["expires_on"] = ["required date: an authorisation must have an end"]
    elif signed_on is not None and expires_on < signed_on:
        errors["expires_on"] = ["is before the signature date"]
    if errors:
        raise ValidationFailed(errors)
    assert signed_on is not None and expires_on is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.THERAPY_RECORD, audit_action=None, request=request, for_update=True
        )
        auth = NotesAuthorisation.objects.create(
            patient=patient,
            recipient=recipient.strip(),
            purpose=purpose.strip(),
            signed_on=signed_on,
            expires_on=expires_on,
            recorded_by=actor,
            recorded_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.THERAPY_NOTES_AUTHORISATION_RECORD,
            obj=auth,
            patient=patient,
            request=request,
            detail={"expires_on": expires_on.isoformat()},
        )
    return auth


def do_revoke_notes_authorisation(
    *, actor: User, authorisation_id: int, request: HttpRequest | None = None
) -> NotesAuthorisation:
    """The patient revokes an authorisation: from now on exports leave the notes out again."""
    with transaction.atomic():
        auth = NotesAuthorisation.objects.select_for_update().filter(pk=authorisation_id).first()
        if auth is None:
            raise NotFoundError("no such authorisation")
        patient = access_patient_by_id(
            actor, auth.patient_id, perm=Perm.THERAPY_RECORD, audit_action=None, request=request
        )
        if auth.revoked_at is not None:
            raise ConflictError("this authorisation is already revoked")
        auth.revoked_at = timezone.now()
        auth.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor,
            action=AuditAction.THERAPY_NOTES_AUTHORISATION_REVOKE,
            obj=auth,
            patient=patient,
            request=request,
        )
    return auth


def do_set_integration_window(
    *, actor: User, clinic: Clinic, days: int | None, request: HttpRequest | None = None
) -> TherapySettings:
    """The clinic's integration window in days after a dosing session (clinic admin)."""
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    if days is None or not 1 <= days <= 60:
        raise ValidationFailed({"integration_window_days": ["must be a whole number of days from 1 to 60"]})
    with transaction.atomic():
        row, _ = TherapySettings.objects.select_for_update().update_or_create(
            clinic=clinic,
            defaults={"integration_window_days": days, "updated_by": actor, "updated_at": timezone.now()},
        )
        record_audit(
            actor=actor,
            action=AuditAction.THERAPY_SETTINGS_SET,
            obj=row,
            clinic=clinic,
            request=request,
            detail={"days": days},
        )
    return row
