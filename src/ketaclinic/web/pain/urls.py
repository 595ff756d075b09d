"""URLs of the pain programme (mounted at /pain/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.pain import views

app_name = "pain"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.clinic_page, name="clinic"),
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/opioids", views.add_medication, name="add_medication"),
    path("patients/<int:patient_id>/opioids/<int:medication_id>/dose", views.change_dose, name="change_dose"),
    path(
        "patients/<int:patient_id>/opioids/<int:medication_id>/stop",
        views.stop_medication,
        name="stop_medication",
    ),
    path("patients/<int:patient_id>/overdose-history", views.overdose_history, name="overdose_history"),
    path("patients/<int:patient_id>/naloxone", views.naloxone_offer, name="naloxone_offer"),
    path(
        "patients/<int:patient_id>/courses/<int:course_id>/indication",
        views.set_indication,
        name="set_indication",
    ),
    path("sessions/<int:session_id>/last-opioid-dose", views.last_dose, name="last_dose"),
]
