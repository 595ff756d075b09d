"""URLs of the patient's session page (mounted at /session/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.patientprep import views

app_name = "patientprep"
urlpatterns: list[URLPattern | URLResolver] = [
    path("p/<str:token>/", views.page, name="page"),
    path("patients/<int:patient_id>/sessions/<int:session_id>/link", views.create_link, name="create_link"),
    path("patients/<int:patient_id>/links/<int:link_id>/revoke", views.revoke_link, name="revoke_link"),
]
