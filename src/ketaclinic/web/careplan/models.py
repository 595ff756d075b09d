"""A care plan per treatment course, its goals and its planned activities (each with an owner and a due date)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CarePlan(models.Model):
    """One plan per course. The safety plan follows Stanley and Brown's safety planning intervention (2012)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        REVOKED = "revoked", "Stopped"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="care_plans")
    course = models.OneToOneField(
        "treatment.TreatmentCourse", on_delete=models.PROTECT, related_name="care_plan"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    warning_signs = models.TextField(blank=True)
    coping_strategies = models.TextField(blank=True)
    support_contacts = models.TextField(blank=True)
    professional_contacts = models.TextField(blank=True)
    means_safety = models.TextField(blank=True, help_text="Making the environment safe.")
    safety_plan_updated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class CarePlanGoal(models.Model):
    class Target(models.TextChoices):
        REMISSION = "remission", "Remission on the scale"
        RESPONSE = "response", "Response on the scale (at least 50 % lower than baseline)"
        AT_MOST = "at_most", "Score at or below a value"
        NONE = "none", "No scale: judged by the owner"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ACHIEVED = "achieved", "Achieved"
        CANCELLED = "cancelled", "Cancelled"

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="goals")
    description = models.CharField(max_length=300)
    instrument_id = models.CharField(max_length=32, blank=True)
    target = models.CharField(max_length=16, choices=Target.choices)
    target_value = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.description


class CarePlanActivity(models.Model):
    class Kind(models.TextChoices):
        DOSING = "dosing", "Dosing schedule"
        PREPARATION = "preparation", "Preparation session"
        INTEGRATION = "integration", "Integration session"
        PSYCHOTHERAPY = "psychotherapy", "Psychotherapy"
        SURVEILLANCE = "surveillance", "Safety surveillance"
        SAFETY_PLAN = "safety_plan", "Safety plan review"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.description
