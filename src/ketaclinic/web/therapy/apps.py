"""Django app config for therapy sessions and psychotherapy notes."""

from django.apps import AppConfig


class TherapyConfig(AppConfig):
    name = "ketaclinic.web.therapy"
    label = "therapy"
    verbose_name = "Therapy"
