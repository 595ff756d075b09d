"""AuditEvent: append-only. Database triggers (migration 0002) reject UPDATE and DELETE on every backend."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaclinic.core.audit.events import AuditAction


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, db_constraint=False
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.DO_NOTHING, null=True, db_constraint=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.DO_NOTHING, null=True, db_constraint=False, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_path = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["clinic", "-at"]), models.Index(fields=["patient", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    @property
    def event(self) -> AuditAction | None:
        """The vocabulary member of this row's stored action (None for a string outside the vocabulary)."""
        return AuditAction.from_stored(self.action)


class AuditLink(models.Model):
    """One link of the audit hash chain, sealing one event (append-only, like the events themselves)."""

    seq = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(
        AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="chain_link"
    )
    event_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"audit link {self.seq} (event {self.event_id})"


class AuditChainHead(models.Model):
    """The last link's seq and hash, kept apart from the links so a truncated chain is noticed (one row)."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    max_event_id = models.BigIntegerField(default=0, help_text="Highest event id sealed so far.")

    def __str__(self) -> str:
        return f"audit chain head {self.seq}"
