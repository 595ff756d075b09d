"""Django app config for the staff's starting points: the role home page, the alert inbox and the nav counts."""

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "ketaclinic.web.home"
    label = "home"
    verbose_name = "Home and alert inbox"
