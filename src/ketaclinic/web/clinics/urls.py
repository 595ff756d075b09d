"""Clinic administration URLs."""

from django.urls import path

from ketaclinic.web.clinics import grants, views

app_name = "clinics"
urlpatterns = [
    path("settings/", views.settings_view, name="settings"),
    path("staff/", views.staff_view, name="staff"),
    path("grants/", grants.pending_grants_view, name="grants"),
]
