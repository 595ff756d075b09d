"""URLs of the monitoring app (mounted at /monitoring/)."""

from django.urls import URLPattern, URLResolver, path

from ketaclinic.web.monitoring import views

app_name = "monitoring"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.board, name="board"),
    path("sites/<int:site_id>/board/", views.site_board, name="site_board"),
    path("sites/<int:site_id>/devices/", views.devices, name="devices"),
    path("alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
]
