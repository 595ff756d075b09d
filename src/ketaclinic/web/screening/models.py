"""Screening records: intake items (stored as FHIR R4 resources), screening runs with their trace, reviews, consent."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IntakeItem(models.Model):
    """One intake fact, stored as the FHIR R4 resource the core engine reads (form entry or bundle import)."""

    class Kind(models.TextChoices):
        CONDITION = "Condition", "Condition"
        MEDICATION = "MedicationStatement", "Medication"
        ALLERGY = "AllergyIntolerance", "Allergy"
        OBSERVATION = "Observation", "Observation"
        MEDICATION_RESOURCE = "Medication", "Medication (referenced)"

    class Source(models.TextChoices):
        FORM = "form", "Form"
        IMPORT = "import", "FHIR import"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="intake_items")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    resource = models.JSONField()
    source = models.CharField(max_length=16, choices=Source.choices)
    summary = models.CharField(max_length=300)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    retracted_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    retraction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"


class ScreeningRun(models.Model):
    """One evaluation of the patient's intake: decision, rule-set version and the full trace."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="screening_runs")
    decision = models.CharField(max_length=16)
    ruleset_version = models.CharField(max_length=40)
    on = models.DateField()
    route = models.CharField(max_length=16)
    result = models.JSONField()  # ScreeningResult.to_record(): contract object + on, route, trace
    trigger = models.CharField(max_length=60)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.decision} ({self.ruleset_version}) {self.on}"

    @property
    def findings(self) -> list[dict[str, object]]:
        return list(self.result.get("findings", []))


class FindingReview(models.Model):
    """A prescriber's decision on one finding of one run: clear a relative finding, or override an absolute one."""

    class Kind(models.TextChoices):
        CLEAR_RELATIVE = "clear_relative", "Relative finding cleared"
        OVERRIDE_ABSOLUTE = "override_absolute", "Absolute finding overridden"

    run = models.ForeignKey(ScreeningRun, on_delete=models.PROTECT, related_name="reviews")
    finding_code = models.CharField(max_length=64)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    reason = models.TextField()
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["run", "finding_code"], name="one_review_per_finding")]

    def __str__(self) -> str:
        return f"{self.finding_code}: {self.kind}"

    @property
    def effective(self) -> bool:
        return self.kind == self.Kind.CLEAR_RELATIVE or self.cosigned_at is not None


class Consent(models.Model):
    """Informed consent for a course: indication, product, jurisdiction and the off-label notice shown."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="consents")
    course_ref = models.CharField(max_length=64, blank=True)
    indication = models.CharField(max_length=40)
    product = models.CharField(max_length=40)
    jurisdiction = models.CharField(max_length=8)
    off_label = models.BooleanField()
    notice = models.TextField(blank=True)
    patient_acknowledged_off_label = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["-signed_at", "-pk"]

    def __str__(self) -> str:
        return f"consent {self.indication}/{self.product}"
