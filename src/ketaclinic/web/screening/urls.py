"""URLs of the screening app (mounted at /screening/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.screening import views

app_name = "screening"
urlpatterns: list[URLPattern | URLResolver] = [
    path("patients/<int:patient_id>/", views.chart_tab, name="chart_tab"),
    path("patients/<int:patient_id>/import", views.import_bundle, name="import"),
    path("patients/<int:patient_id>/conditions", views.add_condition, name="add_condition"),
    path("patients/<int:patient_id>/medications", views.add_medication, name="add_medication"),
    path("patients/<int:patient_id>/allergies", views.add_allergy, name="add_allergy"),
    path("patients/<int:patient_id>/vitals", views.add_vitals, name="add_vitals"),
    path(
        "patients/<int:patient_id>/intake/<int:item_id>/withdraw", views.withdraw_item, name="withdraw_item"
    ),
    path("patients/<int:patient_id>/rerun", views.rerun, name="rerun"),
    path("patients/<int:patient_id>/runs/<int:run_id>/review", views.review, name="review"),
    path("patients/<int:patient_id>/reviews/<int:review_id>/cosign", views.cosign, name="cosign"),
    path("patients/<int:patient_id>/consent", views.consent, name="consent"),
]
