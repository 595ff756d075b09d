"""Therapy sessions (part of the record) and psychotherapy notes with their shares and the patient's authorisations (apart from it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TherapySettings(models.Model):
    """A clinic's choices for integration: how many days after a dosing session integration must happen."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.PROTECT, related_name="therapy_settings")
    integration_window_days = models.PositiveSmallIntegerField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"therapy settings of {self.clinic}"


class TherapySession(models.Model):
    """A preparation, integration or psychotherapy session with its structured note and outcome measures.

    Everyone who may see the chart sees this row; the therapist's process notes are PsychotherapyNote rows.
    """

    class Kind(models.TextChoices):
        PREPARATION = "preparation", "Preparation (intention setting)"
        INTEGRATION = "integration", "Integration"
        PSYCHOTHERAPY = "psychotherapy", "Psychotherapy"

    class Approach(models.TextChoices):
        INTEGRATION = "integration", "Integration therapy"
        CBT = "cbt", "Cognitive behavioural therapy"
        ACT = "act", "Acceptance and commitment therapy"
        SUPPORTIVE = "supportive", "Supportive therapy"
        OTHER = "other", "Other"

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIDEO = "video", "Video"
        TELEPHONE = "telephone", "Telephone"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="therapy_sessions")
    dosing_session = models.ForeignKey(
        "treatment.DosingSession",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="therapy_sessions",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    approach = models.CharField(max_length=16, choices=Approach.choices)
    modality = models.CharField(max_length=16, choices=Modality.choices)
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    held_at = models.DateTimeField()
    duration_min = models.PositiveSmallIntegerField()
    intention = models.TextField(
        blank=True, help_text="Preparation: the patient's intention for the dosing session."
    )
    themes = models.TextField(
        blank=True, help_text="Structured summary: themes worked on (no process notes)."
    )
    plan = models.TextField(blank=True, help_text="Agreed next steps or practice between sessions.")
    wellbeing = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Patient-rated wellbeing 0-10."
    )
    session_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Patient-rated usefulness of the session 0-10."
    )
    safety_concern = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-held_at", "-pk"]
        indexes = [models.Index(fields=["patient", "held_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session {self.pk}"


class PsychotherapyNote(models.Model):
    """A therapist's psychotherapy note (45 CFR 164.501): kept apart from the record, seen only by its author and
    whom the author shares it with, left out of exports unless the patient authorises. Insert-only."""

    session = models.ForeignKey(TherapySession, on_delete=models.PROTECT, related_name="psychotherapy_notes")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"psychotherapy note {self.pk}"


class PsychotherapyNoteShare(models.Model):
    """The author shared a note with one colleague of the same clinic."""

    note = models.ForeignKey(PsychotherapyNote, on_delete=models.PROTECT, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    shared_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="uniq_note_share")]

    def __str__(self) -> str:
        return f"note {self.note_id} shared with {self.user_id}"


class NotesAuthorisation(models.Model):
    """The patient's signed authorisation to include psychotherapy notes in exports (45 CFR 164.508(a)(2))."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    recipient = models.CharField(max_length=200, help_text="To whom the notes may be disclosed.")
    purpose = models.CharField(max_length=300)
    signed_on = models.DateField()
    expires_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_on", "-pk"]

    def __str__(self) -> str:
        return f"notes authorisation {self.pk} for patient {self.patient_id}"
