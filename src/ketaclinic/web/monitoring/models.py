"""Monitoring models: sensor devices and their tokens, attachments to sessions, readings, streaming alerts."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class Device(models.Model):
    """A wearable or bedside monitor registered to a site. Its token is stored only as a SHA-256 digest."""

    class Kind(models.TextChoices):
        WEARABLE = "wearable", "Wearable sensor"
        BEDSIDE = "bedside", "Bedside monitor"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="monitoring_devices")
    site = models.ForeignKey("clinics.Site", on_delete=models.PROTECT, related_name="monitoring_devices")
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEARABLE)
    serial = models.CharField(max_length=64)
    token_prefix = models.CharField(max_length=12)
    token_digest = models.CharField(max_length=64, unique=True)
    token_issued_at = models.DateTimeField()
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(max_length=300, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "label", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "serial"], name="monitoring_device_serial_once")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.serial})"

    @property
    def key(self) -> str:
        """The identifier readings carry in their `device` field."""
        return str(self.pk)

    @staticmethod
    def new_token() -> str:
        return "kcd_" + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class DeviceAttachment(models.Model):
    """A device worn by a session's patient, from attachment to detachment (at the latest, discharge)."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="attachments")
    session = models.ForeignKey(
        "treatment.DosingSession", on_delete=models.PROTECT, related_name="device_attachments"
    )
    attached_at = models.DateTimeField()
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    detached_at = models.DateTimeField(null=True, blank=True)
    detached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detach_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-attached_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(detached_at__isnull=True),
                name="monitoring_device_attached_once",
            )
        ]

    def __str__(self) -> str:
        return f"device {self.device_id} on session {self.session_id}"


class SensorReading(models.Model):
    """One validated sensor reading in canonical UCUM units. Insert-only; stored once per (device, code, seq)."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("treatment.DosingSession", on_delete=models.PROTECT, related_name="+")
    metric = models.CharField(max_length=8)
    code = models.CharField(max_length=16, help_text="LOINC code as sent.")
    value = models.FloatField()
    unit = models.CharField(max_length=16, help_text="Canonical UCUM unit.")
    measured_at = models.DateTimeField()
    seq = models.BigIntegerField(help_text="The device's sequence number (idempotency key).")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["measured_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["device", "code", "seq"], name="monitoring_reading_once")
        ]
        indexes = [models.Index(fields=["session", "measured_at"], name="monitoring_reading_sess_time")]

    def __str__(self) -> str:
        return f"{self.metric} {self.value:g} {self.unit} at {self.measured_at:%Y-%m-%d %H:%M:%S}"


class MonitoringAlert(models.Model):
    """An alert fired by a streaming rule for a session; cleared by the rule, acknowledged by staff."""

    class AckAction(models.TextChoices):
        REASSESSED = "reassessed", "Reassessed the patient"
        SENSOR_REPOSITIONED = "sensor_repositioned", "Repositioned or checked the sensor"
        INFUSION_PAUSED = "infusion_paused", "Paused the infusion"
        TREATED = "treated", "Gave treatment (see note)"
        PRESCRIBER_CALLED = "prescriber_called", "Called the prescriber"
        ARTEFACT = "artefact", "No action: artefact"
        OTHER = "other", "Other (see note)"

    session = models.ForeignKey(
        "treatment.DosingSession", on_delete=models.PROTECT, related_name="sensor_alerts"
    )
    site = models.ForeignKey("clinics.Site", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rule_id = models.CharField(max_length=40)
    rule_type = models.CharField(max_length=16)
    severity = models.CharField(max_length=10)
    metric = models.CharField(max_length=8)
    value = models.FloatField()
    unit = models.CharField(max_length=16)
    message = models.CharField(max_length=300)
    source = models.TextField()
    ruleset = models.CharField(max_length=80, help_text="Rule-set id@version that fired.")
    fired_at = models.DateTimeField(help_text="Time of the reading that fired the rule.")
    raised_at = models.DateTimeField(help_text="Server time the alert was stored.")
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_value = models.FloatField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ack_action = models.CharField(max_length=24, choices=AckAction.choices, blank=True)
    ack_note = models.CharField(max_length=500, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "rule_id"],
                condition=Q(cleared_at__isnull=True),
                name="monitoring_alert_open_once",
            )
        ]
        indexes = [models.Index(fields=["site", "acknowledged_at"], name="monitoring_alert_site_ack")]

    def __str__(self) -> str:
        return f"{self.rule_id} ({self.severity}) session {self.session_id}"


class SessionRuleState(models.Model):
    """The alert-rule state of one session, shared by every process that receives its readings.

    Ingestion locks this row for the batch (SELECT ... FOR UPDATE), loads the state when its own copy is
    older than `version`, evaluates, and writes the new state back in the same transaction. So whichever
    process or host receives a reading, it evaluates from the state the previous reading left. Derived
    data: deleting it loses nothing that the readings and alerts do not hold (it is rebuilt from them).
    """

    session = models.OneToOneField(
        "treatment.DosingSession", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0, help_text="Bumped by every batch that evaluated readings.")
    state = models.JSONField(default=dict, blank=True, help_text="SessionMonitor.snapshot() of the session.")
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rule state of session {self.session_id} v{self.version}"
