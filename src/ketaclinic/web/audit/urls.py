"""Audit trail URLs."""

from django.urls import path

from ketaclinic.web.audit import views

app_name = "audit"
urlpatterns = [path("", views.audit_list, name="list")]
