"""URLs of the assessments app (mounted at /assessments/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.assessments import views

app_name = "assessments"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patient/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patient/<int:patient_id>/new/", views.new_assessment, name="new"),
    path("patient/<int:patient_id>/links/", views.create_link, name="create_link"),
    path("patient/<int:patient_id>/links/<int:link_id>/revoke/", views.revoke_link, name="revoke_link"),
    path("patient/<int:patient_id>/schedules/", views.create_schedule, name="create_schedule"),
    path(
        "patient/<int:patient_id>/schedules/<int:schedule_id>/stop/",
        views.stop_schedule,
        name="stop_schedule",
    ),
    path("patient/<int:patient_id>/alerts/<int:alert_id>/ack/", views.acknowledge_alert, name="ack_alert"),
    path("r/<str:token>/", views.remote, name="remote"),
]
