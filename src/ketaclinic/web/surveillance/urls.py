"""URLs of long-term safety surveillance (mounted at /safety/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.surveillance import views, views_safetyplan

app_name = "surveillance"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.clinic_page, name="clinic"),
    path("settings/", views.settings_page, name="settings"),
    path("patient/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patient/<int:patient_id>/labs/", views.record_lab, name="record_lab"),
    path("patient/<int:patient_id>/labs/import/", views.import_labs, name="import_labs"),
    path("patient/<int:patient_id>/decide/", views.decide, name="decide"),
    path("patient/<int:patient_id>/fhir/", views.fhir_export, name="fhir"),
    path("patient/<int:patient_id>/end-course/", views.end_course, name="end_course"),
    path("followups/<int:followup_id>/close/", views.close_task, name="close_task"),
    path(
        "patient/<int:patient_id>/safety-plans/<int:plan_id>/complete/",
        views_safetyplan.complete,
        name="complete_safety_plan",
    ),
    path(
        "patient/<int:patient_id>/safety-plans/<int:plan_id>/print/",
        views_safetyplan.print_plan,
        name="print_safety_plan",
    ),
]
