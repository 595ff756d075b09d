"""WebSocket routes. Browser routes are session-authenticated; device routes authenticate by device token."""

from __future__ import annotations

from django.urls import path

from ketaclinic.web.lib.consumers import LiveConsumer
from ketaclinic.web.monitoring.consumers import BoardConsumer, DeviceStreamConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/monitoring/board/<int:site_id>/", BoardConsumer.as_asgi()),
]

#: Sockets of devices, not browsers: no Origin check, no session; each consumer checks its bearer token.
device_websocket_urlpatterns = [
    path("ws/monitoring/ingest/", DeviceStreamConsumer.as_asgi()),
]
