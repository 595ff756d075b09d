"""Django app config for assessments: registers the suicide-alert chart banner."""

from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "ketaclinic.web.assessments"
    label = "assessments"
    verbose_name = "Assessments"

    def ready(self) -> None:
        from ketaclinic.web.assessments.selectors import suicide_alert_banner_facts, suicide_alert_banners
        from ketaclinic.web.patients.banner import register_banner_facts
        from ketaclinic.web.patients.tabs import register_banner_provider

        register_banner_provider(suicide_alert_banners)
        register_banner_facts(suicide_alert_banner_facts)
