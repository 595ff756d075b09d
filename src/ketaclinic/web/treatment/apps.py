"""Django app config for treatment."""

from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "ketaclinic.web.treatment"
    label = "treatment"
    verbose_name = "Treatment"

    def ready(self) -> None:
        from ketaclinic.web.assessments.providers import register_dose_times_provider
        from ketaclinic.web.patients.banner import register_banner_facts
        from ketaclinic.web.patients.tabs import register_banner_provider
        from ketaclinic.web.treatment.selectors import (
            dose_times_for_patient,
            escalation_banners,
            treatment_banner_facts,
        )

        register_banner_provider(escalation_banners)
        register_banner_facts(treatment_banner_facts)
        # Response/remission baselines and the dose days on trend charts come from the doses given here.
        register_dose_times_provider(dose_times_for_patient)
