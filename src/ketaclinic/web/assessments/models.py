"""Assessments (scored rating-scale forms), remote questionnaire links and schedules, and suicide-risk alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    # The stubs' FloatField is generic (value set, value read); the runtime class is not subscriptable.
    _FloatFieldBase = models.FloatField[float | int | str | Combinable | None, float | None]
else:
    _FloatFieldBase = models.FloatField


class Context(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    PRE_DOSE = "pre_dose", "Pre-dose"
    POST_DOSE_40MIN = "post_dose_40min", "Post-dose +40 min"
    POST_DOSE_24H = "post_dose_24h", "Post-dose +24 h"
    FOLLOW_UP = "follow_up", "Follow-up"


class Source(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    REMOTE = "remote", "Answered by the patient (remote link)"
    API = "api", "API"


class ScoreTotalField(_FloatFieldBase):
    """A score total: an integer for summed scales, a 2-decimal mean for PEG. Whole values read back as int,
    so a PHQ-9 of 7 shows as 7, never 7.0 (an IntegerField would have truncated a PEG of 1.67 to 1)."""

    def from_db_value(self, value: float | None, expression: object, connection: object) -> float | None:
        if value is None:
            return None
        return int(value) if float(value).is_integer() else float(value)


class Assessment(models.Model):
    """One administration of an instrument. Insert-only: a correction is a new assessment."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="assessments")
    instrument_id = models.CharField(max_length=32)
    instrument_version = models.CharField(max_length=16)
    context = models.CharField(max_length=20, choices=Context.choices)
    assessed_at = models.DateTimeField()
    answers = models.JSONField(help_text="Item values in canonical order; null = unanswered")
    complete = models.BooleanField()
    total = ScoreTotalField(null=True, blank=True)
    severity = models.CharField(max_length=32, blank=True)
    flags = models.JSONField(default=list)
    suicide_risk = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    remote_link = models.ForeignKey(
        "assessments.RemoteLink", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fhir_response = models.JSONField()
    fhir_observation = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-assessed_at", "-pk"]
        indexes = [models.Index(fields=["patient", "instrument_id", "assessed_at"])]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.total if self.total is not None else '(incomplete)'} on {self.assessed_at:%Y-%m-%d}"


class RemoteSchedule(models.Model):
    """Creates remote links automatically: every `interval_days`, or `delay_hours` after each dose."""

    class Kind(models.TextChoices):
        INTERVAL = "interval", "Every N days"
        POST_DOSE = "post_dose", "After each dose"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="remote_schedules")
    instrument_id = models.CharField(max_length=32)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    interval_days = models.PositiveIntegerField(null=True, blank=True)
    delay_hours = models.PositiveIntegerField(null=True, blank=True)
    valid_hours = models.PositiveIntegerField(default=72)
    next_due_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        if self.kind == self.Kind.INTERVAL:
            return f"{self.instrument_id} every {self.interval_days} d"
        return f"{self.instrument_id} {self.delay_hours} h after each dose"


class RemoteLink(models.Model):
    """A personal, signed, single-patient, single-use, expiring and revocable questionnaire link."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="remote_links")
    instrument_id = models.CharField(max_length=32)
    nonce = models.CharField(max_length=64, unique=True)
    context = models.CharField(max_length=20, choices=Context.choices, default=Context.FOLLOW_UP)
    available_from = models.DateTimeField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    schedule = models.ForeignKey(
        RemoteSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="links"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    assessment = models.OneToOneField(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="answered_link"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.instrument_id} link for patient {self.patient_id}"

    def status_at(self, now: object) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "answered"
        if now >= self.expires_at:  # type: ignore[operator]
            return "expired"
        if now < self.available_from:  # type: ignore[operator]
            return "scheduled"
        return "open"


class SuicideAlert(models.Model):
    """Raised by a positive suicide-risk item; stays open until a prescriber documents an action."""

    class Action(models.TextChoices):
        SAFETY_PLAN = "safety_plan", "Safety plan reviewed / made"
        CONTACT = "contact", "Patient contacted"
        REFERRAL = "referral", "Referred (crisis / emergency / specialist)"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="suicide_alerts")
    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="suicide_alert")
    reasons = models.JSONField(help_text="Human-readable triggers with their rules")
    raised_at = models.DateTimeField()
    notified_user_ids = models.JSONField(default=list)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]

    def __str__(self) -> str:
        return f"Suicide-risk alert for patient {self.patient_id} ({'open' if self.acknowledged_at is None else 'acknowledged'})"
