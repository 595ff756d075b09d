"""Django app config for screening."""

from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "ketaclinic.web.screening"
    label = "screening"
    verbose_name = "Screening"
