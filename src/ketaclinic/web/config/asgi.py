"""ASGI entry point: Django over HTTP, Channels consumers over WebSocket, and the server's periodic tasks.

Browser sockets are session-authenticated and must come from an allowed Origin. The device ingestion socket
is not a browser: it authenticates by its device token, and devices send no Origin header, so it bypasses
the Origin check (and the session middleware it does not need).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaclinic.web.config.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ketaclinic.web.config.routing import device_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

DEVICE_PATHS = frozenset("/" + str(p.pattern).lstrip("/") for p in device_websocket_urlpatterns)

_browser_sockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
_device_sockets = URLRouter(device_websocket_urlpatterns)


async def _websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    app = _device_sockets if scope.get("path") in DEVICE_PATHS else _browser_sockets
    await app(scope, receive, send)


_router = ProtocolTypeRouter({"http": django_asgi_app, "websocket": _websocket})


async def _lifespan(receive: Any, send: Any) -> None:
    """Start the periodic tasks at server start-up (uvicorn `lifespan="on"`), cancel them at shutdown."""
    from ketaclinic.web.monitoring.escalation_loop import escalation_interval, run_escalation_loop
    from ketaclinic.web.outcomes.nightly import check_interval, run_recompute_loop

    tasks: list[asyncio.Task[None]] = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            every = escalation_interval()
            if every > 0:
                tasks.append(asyncio.create_task(run_escalation_loop(every)))
            recompute_every = check_interval()
            if recompute_every > 0:
                tasks.append(asyncio.create_task(run_recompute_loop(recompute_every)))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _router(scope, receive, send)
