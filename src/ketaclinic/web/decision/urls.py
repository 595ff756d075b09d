"""URLs of the decision app (mounted at /decision/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.decision import views

app_name = "decision"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/pk-curve/", views.pk_curve, name="pk_curve"),
]
