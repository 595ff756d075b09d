"""Django app config for assessments."""

from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "ketaclinic.web.assessments"
    label = "assessments"
    verbose_name = "Assessments"
