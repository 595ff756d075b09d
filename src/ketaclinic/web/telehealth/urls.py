"""URLs of the telehealth app (mounted at /telehealth/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.telehealth import views

app_name = "telehealth"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/visits", views.schedule, name="schedule"),
    path("patients/<int:patient_id>/visits/<int:visit_id>/close", views.close, name="close"),
    path("patients/<int:patient_id>/consent", views.consent, name="consent"),
    path(
        "patients/<int:patient_id>/consent/<int:consent_id>/withdraw",
        views.withdraw_consent,
        name="withdraw_consent",
    ),
    path("clinic/", views.clinic_settings, name="clinic_settings"),
]
