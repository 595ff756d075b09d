"""Django app config for long-term safety surveillance: registers the chart banner for open alerts."""

from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    name = "ketaclinic.web.surveillance"
    label = "surveillance"
    verbose_name = "Long-term safety"

    def ready(self) -> None:
        from ketaclinic.web.patients.tabs import register_banner_provider
        from ketaclinic.web.surveillance.selectors import surveillance_banners

        register_banner_provider(surveillance_banners)
