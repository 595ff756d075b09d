"""Django app config for analytics."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "ketaclinic.web.analytics"
    label = "analytics"
    verbose_name = "Analytics"
