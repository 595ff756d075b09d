"""Django app config for treatment."""

from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "ketaclinic.web.treatment"
    label = "treatment"
    verbose_name = "Treatment"

    def ready(self) -> None:
        from ketaclinic.web.patients.tabs import register_banner_provider
        from ketaclinic.web.treatment.selectors import escalation_banners

        register_banner_provider(escalation_banners)
