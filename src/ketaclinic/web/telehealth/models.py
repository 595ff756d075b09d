"""Telehealth visits, the patient's consent to telehealth, clinicians' licences and each clinic's tightening policy."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaclinic.web.clinics.jurisdictions import JURISDICTION_CHOICES


class TelehealthPolicy(models.Model):
    """A clinic's tightening of the telehealth rules (ketaclinic.core.telehealth.ClinicPolicy as JSON)."""

    clinic = models.OneToOneField(
        "clinics.Clinic", on_delete=models.PROTECT, related_name="telehealth_policy"
    )
    policy = models.JSONField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"telehealth policy of {self.clinic}"


class ClinicianLicence(models.Model):
    """Where a clinician may practise: a US state licence, UK registration, or Australian registration."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="licences")
    jurisdiction = models.CharField(max_length=8, choices=JURISDICTION_CHOICES)
    number = models.CharField(max_length=64, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["user_id", "jurisdiction"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "user", "jurisdiction"], name="uniq_clinician_licence")
        ]

    def __str__(self) -> str:
        return f"{self.user} licensed in {self.jurisdiction}"


class TelehealthConsent(models.Model):
    """The patient's consent to care by video or telephone; withdrawal ends it from that time."""

    class Method(models.TextChoices):
        WRITTEN = "written", "Written"
        VERBAL = "verbal", "Verbal, witnessed by staff"
        ELECTRONIC = "electronic", "Electronic signature"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="telehealth_consents"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    given_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-given_at", "-pk"]

    def __str__(self) -> str:
        return f"telehealth consent of patient {self.patient_id} ({self.method})"


class Visit(models.Model):
    """One visit: in person, by video (link to the clinic's own video tool) or by telephone, with the rules' decision."""

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIDEO = "video", "Video"
        TELEPHONE = "telephone", "Telephone"

    class Activity(models.TextChoices):
        EVALUATION = "evaluation", "Evaluation"
        PRESCRIBE = "prescribe", "Prescribing ketamine or esketamine"
        ADMINISTER = "administer", "Dosing session"
        FOLLOW_UP = "follow_up", "Follow-up"
        THERAPY = "therapy", "Therapy session"

    class Drug(models.TextChoices):
        KETAMINE = "ketamine", "Ketamine"
        ESKETAMINE = "esketamine", "Esketamine"

    class Decision(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        NEEDS_REVIEW = "needs_review", "Needs review"
        NOT_ALLOWED = "not_allowed", "Not allowed"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="telehealth_visits"
    )
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scheduled_for = models.DateTimeField()
    modality = models.CharField(max_length=16, choices=Modality.choices)
    patient_jurisdiction = models.CharField(
        max_length=8, choices=JURISDICTION_CHOICES, help_text="Where the patient is during the visit."
    )
    activity = models.CharField(max_length=16, choices=Activity.choices)
    drug = models.CharField(max_length=16, choices=Drug.choices, blank=True)
    video_link = models.URLField(max_length=500, blank=True)
    consent = models.ForeignKey(
        TelehealthConsent, on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )
    records_access = models.BooleanField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    findings = models.JSONField(default=list)
    result = models.JSONField(default=dict, help_text="Decision, policy applied and per-rule trace.")
    ruleset_version = models.CharField(max_length=32)
    review_note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        indexes = [models.Index(fields=["patient", "scheduled_for"])]

    def __str__(self) -> str:
        return f"{self.get_modality_display()} visit {self.pk} ({self.get_activity_display()})"

    @property
    def remote(self) -> bool:
        return self.modality != self.Modality.IN_PERSON
