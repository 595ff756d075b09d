"""Django app config for telehealth visits."""

from django.apps import AppConfig


class TelehealthConfig(AppConfig):
    name = "ketaclinic.web.telehealth"
    label = "telehealth"
    verbose_name = "Telehealth"
