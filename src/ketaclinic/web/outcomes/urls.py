"""URLs of the outcomes app (mounted at /outcomes/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.outcomes import views

app_name = "outcomes"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.outcomes_page, name="page"),
    path("summary.pdf", views.summary_pdf, name="summary_pdf"),
    path("patients/<int:patient_id>/progress.pdf", views.progress_report, name="progress_pdf"),
]
