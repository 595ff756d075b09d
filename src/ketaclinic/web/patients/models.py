"""Patient, its insert-only version history, weight history and care team."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown"


class Patient(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="patients")
    home_site = models.ForeignKey(
        "clinics.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="patients"
    )
    mrn = models.CharField("MRN", max_length=32)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex_at_birth = models.CharField(max_length=16, choices=SexAtBirth.choices)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    emergency_contact_name = models.CharField(max_length=150, blank=True)
    emergency_contact_phone = models.CharField(max_length=40, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    referring_clinician = models.CharField(max_length=150, blank=True)
    referring_clinician_contact = models.CharField(max_length=200, blank=True)
    is_synthetic = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name", "pk"]
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn"], name="uniq_mrn_per_clinic")]
        indexes = [
            models.Index(fields=["clinic", "family_name"]),
            models.Index(fields=["clinic", "birth_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def latest_weight(self) -> WeightMeasurement | None:
        """The newest weight, read once per loaded patient (a chart page and its banners ask several times).

        A patient is loaded afresh for every request and every action, so the cached value is that of the
        moment it was loaded; `refresh_from_db()` forgets it.
        """
        if "_latest_weight" not in self.__dict__:
            self.__dict__["_latest_weight"] = self.weights.order_by("-measured_at", "-pk").first()
        cached: WeightMeasurement | None = self.__dict__["_latest_weight"]
        return cached

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.pop("_latest_weight", None)
        super().refresh_from_db(*args, **kwargs)


class PatientVersion(models.Model):
    """Snapshot of a patient's demographics after each change. Insert-only; never edited."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changed_fields = models.JSONField(default=list)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["patient_id", "version"]
        constraints = [models.UniqueConstraint(fields=["patient", "version"], name="uniq_patient_version")]

    def __str__(self) -> str:
        return f"{self.patient_id} v{self.version}"


class WeightMeasurement(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    measured_at = models.DateTimeField()
    source = models.CharField(max_length=32, default="clinic", help_text="clinic, intake, fhir-import, ...")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-measured_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.weight_kg} kg on {self.measured_at:%Y-%m-%d}"

    @property
    def weight(self) -> Decimal:
        return self.weight_kg


class CareTeamMember(models.Model):
    class TeamRole(models.TextChoices):
        PRESCRIBER = "prescriber", "Prescriber"
        NURSE = "nurse", "Nurse"
        THERAPIST = "therapist", "Therapist"
        COORDINATOR = "coordinator", "Care coordinator"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_of")
    team_role = models.CharField(max_length=20, choices=TeamRole.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "user", "team_role"], name="uniq_care_team_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_team_role_display()})"
