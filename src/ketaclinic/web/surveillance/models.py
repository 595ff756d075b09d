"""Long-term safety surveillance: laboratory results, prescriber decisions on alerts, clinic schedule overrides."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LabResult(models.Model):
    """A laboratory result stored as a FHIR Observation (LOINC-coded). Insert-only: a correction is a new row."""

    class Source(models.TextChoices):
        STAFF = "staff", "Entered by staff"
        FHIR_IMPORT = "fhir_import", "Imported from a FHIR bundle"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="lab_results")
    loinc = models.CharField(max_length=16)
    value_number = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    value_text = models.CharField(max_length=40, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    reference_low = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    taken_at = models.DateTimeField()
    source = models.CharField(max_length=12, choices=Source.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fhir_observation = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at", "-pk"]
        indexes = [models.Index(fields=["patient", "loinc", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.loinc} {self.value_text or self.value_number} on {self.taken_at:%Y-%m-%d}"


class SurveillanceDecision(models.Model):
    """A prescriber's decision on a surveillance alert, with a reason. Insert-only."""

    class Decision(models.TextChoices):
        CONTINUE = "continue", "Continue treatment"
        REDUCE = "reduce", "Reduce the dose"
        PAUSE = "pause", "Pause treatment"
        REFER_UROLOGY = "refer_urology", "Refer to urology"
        REFER_NEUROPSYCHOLOGY = "refer_neuropsychology", "Refer to neuropsychology"
        REFER_ADDICTION = "refer_addiction", "Refer to addiction services"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="surveillance_decisions"
    )
    alert_code = models.CharField(max_length=40)
    #: The alert's evidence (record references) when decided: a new result makes a new alert.
    evidence = models.JSONField(default=list)
    alert_message = models.TextField()
    decision = models.CharField(max_length=24, choices=Decision.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at", "-pk"]
        indexes = [models.Index(fields=["patient", "alert_code"])]

    def __str__(self) -> str:
        return f"{self.alert_code}: {self.decision}"


class ClinicSurveillanceSettings(models.Model):
    """A clinic's overrides of the shipped surveillance defaults (validated by core.surveillance), for one
    protocol or (blank protocol) for every protocol of the clinic."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    protocol_id = models.CharField(max_length=80, blank=True)
    overrides = models.JSONField(default=dict)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["protocol_id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "protocol_id"], name="uniq_surveillance_settings")
        ]

    def __str__(self) -> str:
        return f"surveillance settings of clinic {self.clinic_id} {self.protocol_id or '(all protocols)'}"


class FollowUp(models.Model):
    """A withdrawal and craving follow-up after a course ends: a personal link that opens on its day and, when
    it goes unanswered, a nurse task (call the patient and record an SDS) until a nurse closes it."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="safety_followups")
    course = models.ForeignKey("treatment.TreatmentCourse", on_delete=models.PROTECT, related_name="+")
    day = models.PositiveSmallIntegerField(help_text="Days after the course ended")
    link = models.OneToOneField("assessments.RemoteLink", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    task_closed_at = models.DateTimeField(null=True, blank=True)
    task_closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    task_note = models.TextField(blank=True)

    class Meta:
        ordering = ["link__available_from", "pk"]
        constraints = [models.UniqueConstraint(fields=["course", "day"], name="uniq_followup_course_day")]

    def __str__(self) -> str:
        return f"day-{self.day} follow-up of course {self.course_id}"


class SafetyPlan(models.Model):
    """A safety plan (Stanley and Brown's safety planning intervention, 2012) opened as a task by a suicide-risk
    alert; shown on the Safety tab until a clinician completes it with the patient."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="safety_plans")
    suicide_alert = models.ForeignKey(
        "assessments.SuicideAlert", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField()
    warning_signs = models.TextField(blank=True)
    internal_coping = models.TextField(blank=True)
    social_distraction = models.TextField(blank=True)
    help_contacts = models.TextField(blank=True)
    professional_contacts = models.TextField(blank=True)
    means_safety = models.TextField(blank=True)
    reasons_for_living = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(completed_at__isnull=True), name="safety_plan_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"Safety plan {self.pk} ({'completed' if self.completed_at else 'to complete'})"
