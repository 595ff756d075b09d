"""Treatment courses, signed orders, dosing sessions and everything recorded during one (vitals, scales, side effects)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ClinicProtocol(models.Model):
    """A clinic-defined protocol (validated by ketaclinic.core.protocols.parse_protocol)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="protocols")
    protocol_id = models.CharField(max_length=80)
    definition = models.JSONField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["protocol_id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "protocol_id"], name="uniq_clinic_protocol")]

    def __str__(self) -> str:
        return self.protocol_id


class TreatmentCourse(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="treatment_courses")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="treatment_courses"
    )
    protocol_id = models.CharField(max_length=80)
    protocol_version = models.PositiveIntegerField()
    protocol_snapshot = models.JSONField(
        help_text="The protocol definition as it was when the course started."
    )
    indication = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    rems_patient_enrolled = models.BooleanField(default=False)
    rems_patient_id = models.CharField(max_length=64, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.protocol_id} for patient {self.patient_id}"


class Order(models.Model):
    """A dose order for one session, computed from the protocol and a stated weight, signed by a prescriber."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"
        CANCELLED = "cancelled", "Cancelled"

    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="orders")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="dose_orders")
    drug = models.CharField(max_length=16)
    route = models.CharField(max_length=16)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    dose_mg_per_kg = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    duration_min = models.PositiveIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    weight_measured_at = models.DateTimeField(null=True, blank=True)
    weight_measurement = models.ForeignKey(
        "patients.WeightMeasurement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    planned_for = models.DateTimeField()
    guard_decision = models.CharField(max_length=8)
    guard_findings = models.JSONField(default=list)
    override_reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SIGNED)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["-signed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose_mg} mg {self.route}"


class DosingSession(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CHECKED_IN = "checked_in", "Checked in"
        PRE_DOSE_CHECKS = "pre_dose_checks", "Pre-dose checks passed"
        DOSING = "dosing", "Dosing"
        MONITORING = "monitoring", "Monitoring"
        DISCHARGE_READY = "discharge_ready", "Ready for discharge"
        DISCHARGED = "discharged", "Discharged"
        CANCELLED = "cancelled", "Cancelled"

    class PregnancyTest(models.TextChoices):
        NOT_REQUIRED = "not_required", "Not required"
        NEGATIVE = "negative", "Negative"
        POSITIVE = "positive", "Positive"
        NOT_DONE = "not_done", "Not done"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="dosing_sessions")
    site = models.ForeignKey(
        "clinics.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="dosing_sessions")
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="sessions")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_for = models.DateTimeField()
    checked_in_at = models.DateTimeField(null=True, blank=True)
    fasting_confirmed = models.BooleanField(default=False)
    transport_confirmed = models.BooleanField(default=False)
    escort_name = models.CharField(max_length=150, blank=True)
    pregnancy_test = models.CharField(max_length=16, choices=PregnancyTest.choices, blank=True)
    rems_enrolment_verified = models.BooleanField(default=False)
    bp_attestation_reason = models.TextField(blank=True)
    pre_dose_passed_at = models.DateTimeField(null=True, blank=True)
    first_dose_at = models.DateTimeField(null=True, blank=True)
    dose_ended_at = models.DateTimeField(null=True, blank=True)
    infusion_paused = models.BooleanField(default=False)
    dose_given_mg = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The dose the patient received: an infusion ended early gave its rate times the time it ran.",
    )
    dose_end_reason = models.CharField(max_length=300, blank=True)
    monitoring_started_at = models.DateTimeField(null=True, blank=True)
    discharge_ready_at = models.DateTimeField(null=True, blank=True)
    escort_present = models.BooleanField(default=False)
    rems_ready_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="REMS evaluation question: minutes until ready to leave without the 2-h minimum.",
    )
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        indexes = [
            models.Index(fields=["clinic", "status"]),
            models.Index(fields=["patient", "scheduled_for"]),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} ({self.status})"


def _status_label(code: str) -> str:
    labels = dict(DosingSession.Status.choices)
    return str(labels.get(code, code.replace("_", " ")))


class SessionTransition(models.Model):
    """Insert-only timeline of a session's state changes."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"

    @property
    def from_label(self) -> str:
        """The status left, in words (the code stays in `from_status`)."""
        return _status_label(self.from_status)

    @property
    def to_label(self) -> str:
        return _status_label(self.to_status)


class Administration(models.Model):
    """One administered dose (for esketamine, one per device), guarded by the dose guard."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="administrations")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="administrations")
    drug = models.CharField(max_length=16)
    route = models.CharField(max_length=16)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    duration_min = models.PositiveIntegerField(null=True, blank=True)
    device_number = models.PositiveSmallIntegerField(null=True, blank=True)
    lot_number = models.CharField(max_length=64)
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="treatment_administration",
        help_text="The controlled-substance ledger's administration entry, stored in the same transaction.",
    )
    administered_at = models.DateTimeField()
    administered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    guard_decision = models.CharField(max_length=8)
    guard_findings = models.JSONField(default=list)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["administered_at", "pk"]

    def __str__(self) -> str:
        return f"{self.dose_mg} mg {self.route} at {self.administered_at:%Y-%m-%d %H:%M}"


class InfusionPause(models.Model):
    """One pause of a session's infusion (by staff, or by an alert rule), until it resumed or dosing ended."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="pauses")
    paused_at = models.DateTimeField()
    resumed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=400)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    alert = models.ForeignKey(
        "treatment.SessionAlert", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["paused_at", "pk"]

    def __str__(self) -> str:
        return f"pause of session {self.session_id} at {self.paused_at:%H:%M}"


class VitalSign(models.Model):
    """One set of vital signs, entered by staff (`manual`) or streamed from a wearable (`sensor`)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        SENSOR = "sensor", "Sensor"

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="vitals")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="vital_signs")
    taken_at = models.DateTimeField()
    systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField(null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    device_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - None = manual entry
    is_baseline = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["taken_at", "pk"]
        indexes = [models.Index(fields=["session", "taken_at"])]

    def __str__(self) -> str:
        return f"vitals at {self.taken_at:%Y-%m-%d %H:%M} ({self.source})"


class ScaleReading(models.Model):
    """MOAA/S sedation (0-5) or CADSS dissociation score taken during a session."""

    class Kind(models.TextChoices):
        MOAAS = "moaas", "MOAA/S"
        CADSS = "cadss", "CADSS"

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="scale_readings")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    score = models.PositiveSmallIntegerField()
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["taken_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"


class SideEffect(models.Model):
    class Code(models.TextChoices):
        DISSOCIATION = "dissociation", "Dissociation"
        SEDATION = "sedation", "Sedation"
        HALLUCINATIONS = "hallucinations", "Hallucinations"
        RAISED_BP = "raised_bp", "Raised blood pressure"
        NAUSEA_VOMITING = "nausea_vomiting", "Nausea / vomiting"
        DIZZINESS = "dizziness", "Dizziness"
        BLURRED_VISION = "blurred_vision", "Blurred vision"
        HEADACHE = "headache", "Headache"
        ANXIETY = "anxiety", "Anxiety"
        RESPIRATORY_DEPRESSION = "respiratory_depression", "Respiratory depression"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="side_effects")
    code = models.CharField(max_length=32, choices=Code.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField(default=False)
    onset_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["onset_at", "pk"]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"


class Intervention(models.Model):
    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="interventions")
    description = models.CharField(max_length=300)
    given_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["given_at", "pk"]

    def __str__(self) -> str:
        return self.description


class SessionAlert(models.Model):
    """A threshold alert raised during a session (vitals or sedation), shown on screen until acknowledged."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="alerts")
    code = models.CharField(max_length=40)
    level = models.CharField(max_length=10)
    message = models.CharField(max_length=400)
    source = models.TextField(blank=True)
    vital_sign = models.ForeignKey(
        VitalSign, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    paused_infusion = models.BooleanField(default=False)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.level}: {self.code}"


class RemsMonitoringForm(models.Model):
    """The Spravato REMS Patient Monitoring Form for one outpatient session; due within 7 days."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="rems_form")
    data = models.JSONField()
    generated_at = models.DateTimeField()
    due_on = models.DateField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submission_reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"REMS form for session {self.session_id} due {self.due_on}"
