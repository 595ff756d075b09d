"""Django app config for interop."""

from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "ketaclinic.web.interop"
    label = "interop"
    verbose_name = "Interop"
