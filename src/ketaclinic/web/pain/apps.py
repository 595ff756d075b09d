"""Django app config for the pain programme; registers its run-sheet panel with the treatment app."""

from django.apps import AppConfig


class PainConfig(AppConfig):
    name = "ketaclinic.web.pain"
    label = "pain"
    verbose_name = "Pain programme"

    def ready(self) -> None:
        from ketaclinic.web.pain.views import run_sheet_panel
        from ketaclinic.web.treatment.panels import register_run_sheet_panel

        register_run_sheet_panel(run_sheet_panel)
