"""Live events: sent only after commit, delivered to the user's socket; the Redis layer works across processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction

from ketaclinic.web.lib.consumers import LiveConsumer
from ketaclinic.web.lib.live import notify_user, send_now, user_group


async def _receive_one(layer: Any, group: str, trigger: Any) -> Any:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await trigger()
    return await asyncio.wait_for(layer.receive(channel), 5)


@pytest.mark.django_db(transaction=True)
def test_notify_user_waits_for_commit_and_is_dropped_on_rollback() -> None:
    layer = get_channel_layer()
    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        channel = await layer.new_channel()
        await layer.group_add(user_group(7), channel)

        def rolled_back() -> None:
            with pytest.raises(RuntimeError), transaction.atomic():
                notify_user(7, {"type": "alert", "n": 1})
                raise RuntimeError("roll back")

        def committed() -> None:
            with transaction.atomic():
                notify_user(7, {"type": "alert", "n": 2})

        from asgiref.sync import sync_to_async

        await sync_to_async(rolled_back)()
        await sync_to_async(committed)()
        msg = await asyncio.wait_for(layer.receive(channel), 5)
        sent.append(msg["event"])
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.3)

    async_to_sync(scenario)()
    assert sent == [{"type": "alert", "n": 2}]


@pytest.mark.django_db(transaction=True)
def test_live_socket_refuses_anonymous_and_delivers_to_the_user(nurse: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    async def scenario() -> tuple[bool, Any]:
        anon = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
        anon.scope["user"] = AnonymousUser()
        connected, _ = await anon.connect()
        comm = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
        comm.scope["user"] = nurse
        ok, _ = await comm.connect()
        assert ok
        await get_channel_layer().group_send(
            user_group(nurse.pk), {"type": "live.event", "event": {"type": "alert", "title": "x"}}
        )
        got = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return connected, got

    anon_connected, got = async_to_sync(scenario)()
    assert anon_connected is False
    assert got == {"type": "alert", "title": "x"}


@pytest.mark.redis
def test_redis_channel_layer_round_trip(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")]},
        }
    }
    channel_layers.backends.clear()
    try:
        layer = get_channel_layer()
        assert type(layer).__name__ == "RedisChannelLayer"
        msg = async_to_sync(_receive_one)(layer, "kc-test-group", lambda: _send())
        assert msg["event"] == {"type": "alert", "title": "via redis"}
    finally:
        channel_layers.backends.clear()


async def _send() -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(send_now)("kc-test-group", {"type": "alert", "title": "via redis"})
