"""URLs of the therapy app (mounted at /therapy/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.therapy import views

app_name = "therapy"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/sessions", views.record_session, name="record_session"),
    path("patients/<int:patient_id>/authorisations", views.authorise, name="authorise"),
    path(
        "patients/<int:patient_id>/authorisations/<int:authorisation_id>/revoke", views.revoke, name="revoke"
    ),
    path("patients/<int:patient_id>/export.json", views.export, name="export"),
    path("notes/<int:note_id>/", views.note, name="note"),
    path("notes/<int:note_id>/share", views.share_note, name="share_note"),
]
