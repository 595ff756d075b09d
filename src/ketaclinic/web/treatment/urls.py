"""URLs of the treatment app (mounted at /treatment/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.treatment import views

app_name = "treatment"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/courses", views.course_start, name="course_start"),
    path("patients/<int:patient_id>/courses/<int:course_id>/orders", views.order_sign, name="order_sign"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("sessions/<int:session_id>/flowsheet/", views.session_flowsheet, name="session_flowsheet"),
    path("sessions/<int:session_id>/<slug:step>", views.session_step, name="session_step"),
    path("", views.board, name="board"),
    path("protocols/", views.protocol_admin, name="protocols"),
    path("rems/", views.rems_dashboard, name="rems_dashboard"),
    path("rems/<int:form_id>.pdf", views.rems_pdf, name="rems_pdf"),
    path("rems/<int:form_id>/submit", views.rems_submit, name="rems_submit"),
]
