"""Clinics (organisations) and their sites, with controlled-substance registrations and REMS status."""

from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "ketaclinic.web.clinics"
    label = "clinics"
    verbose_name = "Clinics"
