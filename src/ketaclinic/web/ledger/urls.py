"""URLs of the ledger app (mounted at /ledger/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.ledger import views

app_name = "ledger"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("entries/", views.entries, name="entries"),
    path("verify/", views.verify, name="verify"),
    path("setup/", views.setup, name="setup"),
    path("record/<slug:kind>/", views.record, name="record"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("register/", views.register, name="register"),
    path("inventory/", views.inventory, name="inventory"),
]
