"""URLs of the interop app (mounted at /interop/)."""

from django.urls import URLPattern, URLResolver

app_name = "interop"
urlpatterns: list[URLPattern | URLResolver] = []
