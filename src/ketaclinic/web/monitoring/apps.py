"""Django app config for monitoring."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "ketaclinic.web.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from ketaclinic.web.monitoring.selectors import sensor_alert_banner_facts
        from ketaclinic.web.patients.banner import register_banner_facts

        register_banner_facts(sensor_alert_banner_facts)
