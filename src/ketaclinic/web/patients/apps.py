"""Patient registry: demographics with full edit history, weights, care team; the chart shell."""

from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ketaclinic.web.patients"
    label = "patients"
    verbose_name = "Patients"
