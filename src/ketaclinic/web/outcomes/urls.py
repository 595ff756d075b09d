"""URLs of the outcomes app (mounted at /outcomes/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.outcomes import export_views, views

app_name = "outcomes"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.outcomes_page, name="page"),
    path("summary.pdf", views.summary_pdf, name="summary_pdf"),
    path("patients/<int:patient_id>/progress.pdf", views.progress_report, name="progress_pdf"),
    path("exports/", export_views.exports_page, name="exports"),
    path("exports/<uuid:job_id>/", export_views.export_status_page, name="export_status"),
]
