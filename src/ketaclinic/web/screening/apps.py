"""Django app config for screening: registers the 'screening not cleared' chart banner."""

from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "ketaclinic.web.screening"
    label = "screening"
    verbose_name = "Screening"

    def ready(self) -> None:
        from ketaclinic.web.patients.banner import register_banner_facts
        from ketaclinic.web.patients.tabs import register_banner_provider
        from ketaclinic.web.screening.selectors import screening_banner_facts, screening_banners

        register_banner_provider(screening_banners)
        register_banner_facts(screening_banner_facts)
