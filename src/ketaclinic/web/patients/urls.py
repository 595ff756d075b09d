"""Patient registry URLs."""

from django.urls import path

from ketaclinic.web.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<int:patient_id>/", views.chart, name="chart"),
    path("<int:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<int:patient_id>/weight/", views.record_weight, name="record_weight"),
    path("<int:patient_id>/care-team/", views.add_care_team, name="add_care_team"),
    path("<int:patient_id>/history/", views.history, name="history"),
    path("<int:patient_id>/fhir/", views.fhir_export, name="fhir"),
]
