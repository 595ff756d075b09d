"""URLs of the monitoring app (mounted at /monitoring/)."""

from django.urls import URLPattern, URLResolver

app_name = "monitoring"
urlpatterns: list[URLPattern | URLResolver] = []
