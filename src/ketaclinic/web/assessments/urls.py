"""URLs of the assessments app (mounted at /assessments/)."""

from django.urls import URLPattern, URLResolver

app_name = "assessments"
urlpatterns: list[URLPattern | URLResolver] = []
