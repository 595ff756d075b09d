"""URLs of the care-plan app (mounted at /careplan/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.careplan import views

app_name = "careplan"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/courses/<int:course_id>/plan", views.create, name="create"),
    path("patients/<int:patient_id>/plans/<int:plan_id>/goals", views.add_goal, name="add_goal"),
    path("patients/<int:patient_id>/plans/<int:plan_id>/activities", views.add_activity, name="add_activity"),
    path(
        "patients/<int:patient_id>/plans/<int:plan_id>/<str:item>/<int:item_id>/status",
        views.set_status,
        name="set_status",
    ),
    path("patients/<int:patient_id>/plans/<int:plan_id>/safety", views.safety_plan, name="safety_plan"),
    path("patients/<int:patient_id>/plans/<int:plan_id>/careplan.json", views.export, name="export"),
]
