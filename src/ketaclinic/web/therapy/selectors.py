"""Reads for therapy: sessions (part of the record), the notes a user may see, authorisations and the clinic's window."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from ketaclinic.web.therapy.models import (
    NotesAuthorisation,
    PsychotherapyNote,
    TherapySession,
    TherapySettings,
)

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

#: Days after a dosing session within which integration should happen unless the clinic chooses otherwise.
#: A configurable default: no guideline fixes a number (integration is usually offered within days of dosing).
DEFAULT_INTEGRATION_WINDOW_DAYS = 7


def integration_window_days(clinic: Clinic) -> int:
    row = TherapySettings.objects.filter(clinic=clinic).first()
    return row.integration_window_days if row is not None else DEFAULT_INTEGRATION_WINDOW_DAYS


def sessions_for_patient(patient: Patient) -> QuerySet[TherapySession]:
    return TherapySession.objects.filter(patient=patient).select_related("therapist", "dosing_session")


def notes_visible_to(user: Any, patient: Patient) -> QuerySet[PsychotherapyNote]:
    """Only the notes `user` wrote or that were shared with them; never anyone else's, whatever the role."""
    return (
        PsychotherapyNote.objects.filter(patient=patient)
        .filter(Q(author=user) | Q(shares__user=user))
        .distinct()
        .select_related("author", "session")
    )


def note_counts_by_session(patient: Patient) -> dict[int, int]:
    """How many notes exist per session (shown to all as "a note exists", never its text)."""
    out: dict[int, int] = {}
    for sid in PsychotherapyNote.objects.filter(patient=patient).values_list("session_id", flat=True):
        out[sid] = out.get(sid, 0) + 1
    return out


def active_notes_authorisation(patient: Patient, on: dt.date) -> NotesAuthorisation | None:
    """The patient's authorisation to disclose psychotherapy notes in force on `on`, if any."""
    return (
        NotesAuthorisation.objects.filter(
            patient=patient, signed_on__lte=on, expires_on__gte=on, revoked_at__isnull=True
        )
        .order_by("-signed_on", "-pk")
        .first()
    )


def authorisations_for_patient(patient: Patient) -> QuerySet[NotesAuthorisation]:
    return NotesAuthorisation.objects.filter(patient=patient).select_related("recorded_by")


def integration_status(patient: Patient, clinic: Clinic) -> list[dict[str, Any]]:
    """Per dosed session of the patient: whether an integration session happened within the clinic's window."""
    from django.utils import timezone

    from ketaclinic.web.treatment.selectors import sessions_for_patient as dosing_sessions

    window = dt.timedelta(days=integration_window_days(clinic))
    integrations: dict[int, list[dt.datetime]] = {}
    for sid, held in TherapySession.objects.filter(
        patient=patient, kind=TherapySession.Kind.INTEGRATION, dosing_session__isnull=False
    ).values_list("dosing_session_id", "held_at"):
        integrations.setdefault(sid, []).append(held)
    now = timezone.now()
    rows = []
    for s in dosing_sessions(patient).filter(first_dose_at__isnull=False).order_by("-first_dose_at")[:20]:
        first_dose = s.first_dose_at
        if first_dose is None:  # excluded by the query; the column itself is nullable
            continue
        due = first_dose + window
        done = [h for h in integrations.get(s.pk, []) if first_dose < h <= due]
        state = "done" if done else ("overdue" if now > due else "due")
        rows.append({"session": s, "due_by": due, "state": state})
    return rows
