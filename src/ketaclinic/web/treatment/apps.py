"""Django app config for treatment."""

from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "ketaclinic.web.treatment"
    label = "treatment"
    verbose_name = "Treatment"
