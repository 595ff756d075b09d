"""Django app config for decision."""

from django.apps import AppConfig


class DecisionConfig(AppConfig):
    name = "ketaclinic.web.decision"
    label = "decision"
    verbose_name = "Decision"
