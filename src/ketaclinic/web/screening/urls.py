"""URLs of the screening app (mounted at /screening/)."""

from django.urls import URLPattern, URLResolver

app_name = "screening"
urlpatterns: list[URLPattern | URLResolver] = []
