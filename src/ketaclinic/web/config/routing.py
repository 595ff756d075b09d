"""WebSocket routes. Apps append their consumers here (e.g. device streams, which authenticate by token)."""

from __future__ import annotations

from django.urls import path

from ketaclinic.web.lib.consumers import LiveConsumer
from ketaclinic.web.monitoring.consumers import BoardConsumer, DeviceStreamConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/monitoring/ingest/", DeviceStreamConsumer.as_asgi()),
    path("ws/monitoring/board/<int:site_id>/", BoardConsumer.as_asgi()),
]
