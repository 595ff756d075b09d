"""Django app config for care plans."""

from django.apps import AppConfig


class CarePlanConfig(AppConfig):
    name = "ketaclinic.web.careplan"
    label = "careplan"
    verbose_name = "Care plan"
