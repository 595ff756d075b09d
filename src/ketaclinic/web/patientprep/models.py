"""A personal, signed, expiring link to a patient's page for one dosing session, the attendance answer and reflections."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SessionLink(models.Model):
    class Attendance(models.TextChoices):
        UNANSWERED = "", "Not answered"
        ATTENDING = "attending", "Will attend"
        CANNOT = "cannot", "Cannot attend"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="session_links")
    dosing_session = models.ForeignKey(
        "treatment.DosingSession", on_delete=models.PROTECT, related_name="patient_links"
    )
    nonce = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    attendance = models.CharField(max_length=16, choices=Attendance.choices, blank=True, default="")
    attendance_at = models.DateTimeField(null=True, blank=True)
    escort_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"session page link {self.pk} for patient {self.patient_id}"


class SessionReflection(models.Model):
    """The patient's answers to the integration prompts after a dosing session."""

    link = models.ForeignKey(SessionLink, on_delete=models.PROTECT, related_name="reflections")
    answers = models.JSONField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-submitted_at", "-pk"]

    def __str__(self) -> str:
        return f"reflection {self.pk}"
