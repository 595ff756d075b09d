"""URLs of the analytics app (mounted at /analytics/)."""

from django.urls import URLPattern, URLResolver

app_name = "analytics"
urlpatterns: list[URLPattern | URLResolver] = []
