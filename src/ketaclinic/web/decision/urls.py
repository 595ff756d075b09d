"""URLs of the decision app (mounted at /decision/)."""

from django.urls import URLPattern, URLResolver

app_name = "decision"
urlpatterns: list[URLPattern | URLResolver] = []
