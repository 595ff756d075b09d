"""Push live events to browsers over Channels, only after the surrounding transaction commits."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def clinic_group(clinic_id: int) -> str:
    return f"clinic-{clinic_id}"


def bedside_group(clinic_id: int) -> str:
    """The clinic's staff who may act on a session or sensor alert (run sessions or acknowledge alerts): their
    toasts. Clinical readers who cannot act (an auditor, a therapist) are not in it."""
    return f"clinic-{clinic_id}-bedside"


def site_group(site_id: int) -> str:
    return f"site-{site_id}"


def device_group(device_id: int) -> str:
    return f"device-{device_id}"


def close_sockets(group: str, reason: str) -> None:
    """Close every socket in `group` (a user's or a device's) once the current transaction commits."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, {"type": "live.close", "reason": reason})

    transaction.on_commit(send)


def send_now(group: str, event: dict[str, Any]) -> None:
    """Send `event` to every socket in `group` immediately (use from async-safe, non-transactional code)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event})


def notify_group(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: send_now(group, event))


def notify_user(user_id: int, event: dict[str, Any]) -> None:
    notify_group(user_group(user_id), event)
