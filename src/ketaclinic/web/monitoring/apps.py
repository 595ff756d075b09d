"""Django app config for monitoring."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "ketaclinic.web.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
