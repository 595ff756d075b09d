"""Append-only audit trail of every read of a patient chart and every write."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ketaclinic.web.audit"
    label = "audit"
    verbose_name = "Audit trail"
