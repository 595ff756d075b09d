"""WebSocket routes. Apps append their consumers here (e.g. device streams, which authenticate by token)."""

from __future__ import annotations

from django.urls import path

from ketaclinic.web.lib.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
