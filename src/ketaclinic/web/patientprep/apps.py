"""Django app config for the patient's session page."""

from django.apps import AppConfig


class PatientPrepConfig(AppConfig):
    name = "ketaclinic.web.patientprep"
    label = "patientprep"
    verbose_name = "Patient session page"
