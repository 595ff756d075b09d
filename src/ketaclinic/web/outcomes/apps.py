"""Django app config for outcomes."""

from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "ketaclinic.web.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes"
