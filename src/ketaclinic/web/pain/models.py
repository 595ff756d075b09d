"""Pain programme records: the pain indication of a course, opioid medication lines, risk factors, naloxone offers,
and the last opioid dose taken before an infusion."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PainKind(models.TextChoices):
    CRPS = "crps", "Complex regional pain syndrome (CRPS)"
    NEUROPATHIC = "neuropathic", "Neuropathic pain"
    FIBROMYALGIA = "fibromyalgia", "Fibromyalgia"
    MIGRAINE = "migraine", "Migraine"
    OTHER = "other", "Other chronic pain"


class CoursePainIndication(models.Model):
    """Which chronic pain a course (indication 'chronic pain') treats."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    course = models.OneToOneField(
        "treatment.TreatmentCourse", on_delete=models.PROTECT, related_name="pain_indication"
    )
    kind = models.CharField(max_length=16, choices=PainKind.choices)
    detail = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (course {self.course_id})"


class OpioidMedication(models.Model):
    """One opioid line: RxNorm ingredient, route, dose and frequency, from `started_on` until `stopped_on`
    (the first day without it). A dose change (a taper step) stops the line and starts a new one."""

    class Unit(models.TextChoices):
        MG = "mg", "mg per dose"
        MCG_H = "mcg/h", "mcg/h (patch strength)"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="opioid_medications"
    )
    rxcui = models.CharField(max_length=16)
    ingredient = models.CharField(max_length=40)
    route = models.CharField(max_length=16)
    dose = models.DecimalField(max_digits=9, decimal_places=3)
    unit = models.CharField(max_length=8, choices=Unit.choices)
    doses_per_day = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["started_on", "pk"]
        indexes = [models.Index(fields=["patient", "started_on"])]

    def __str__(self) -> str:
        return f"{self.ingredient} {self.dose} {self.unit} ({self.route})"


class OpioidRiskFactors(models.Model):
    """Risk factors for the naloxone offer that the medication list cannot show: a history of overdose."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="opioid_risk")
    overdose_history = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"opioid risk factors of patient {self.patient_id}"


class NaloxoneOffer(models.Model):
    """A naloxone offer made to the patient (CDC 2022 recommendation 8), with its outcome."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted (prescribed or supplied)"
        HAS_ALREADY = "has_already", "Already has naloxone"
        DECLINED = "declined", "Declined"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="naloxone_offers")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    offered_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-offered_at", "-pk"]

    def __str__(self) -> str:
        return f"naloxone offered {self.offered_at:%Y-%m-%d}: {self.outcome}"


class LastOpioidDose(models.Model):
    """Before an infusion: when the patient last took an opioid (respiratory-depression risk with ketamine)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("treatment.DosingSession", on_delete=models.PROTECT, related_name="+")
    medication = models.ForeignKey(
        OpioidMedication, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    none_today = models.BooleanField(default=False)
    taken_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-pk"]

    def __str__(self) -> str:
        return f"last opioid dose before session {self.session_id}"
