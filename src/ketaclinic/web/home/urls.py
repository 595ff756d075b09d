"""URLs of the staff's starting points: the alert inbox (mounted at /alerts/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.home import views

app_name = "home"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.alerts, name="alerts"),
]
