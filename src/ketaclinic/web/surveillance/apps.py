"""Django app config for long-term safety surveillance: the chart banner for open alerts and tasks, and the
follow-ups opened when a course ends."""

from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    name = "ketaclinic.web.surveillance"
    label = "surveillance"
    verbose_name = "Long-term safety"

    def ready(self) -> None:
        from ketaclinic.web.assessments.providers import register_suicide_alert_hook
        from ketaclinic.web.patients.tabs import register_banner_provider
        from ketaclinic.web.surveillance.actions import create_followups
        from ketaclinic.web.surveillance.safetyplan import open_safety_plan_task
        from ketaclinic.web.surveillance.selectors import surveillance_banners
        from ketaclinic.web.treatment.courses import register_course_end_hook

        register_banner_provider(surveillance_banners)
        # A suicide-risk alert opens a safety-plan task on the patient in the alert's transaction.
        register_suicide_alert_hook(open_safety_plan_task)
        # A course's end opens the withdrawal and craving follow-ups in the same transaction.
        register_course_end_hook(create_followups)
