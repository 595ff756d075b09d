"""WebSockets of the monitoring app: a device's reading stream and a site's live board."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer

from ketaclinic.core.jsonlimits import loads_limited
from ketaclinic.web.lib.asyncdb import db_sync_to_async
from ketaclinic.web.lib.errors import DomainError

logger = logging.getLogger(__name__)


class DeviceStreamConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """`/ws/monitoring/ingest/`: a device streams batches; each gets the same reply as HTTP ingestion.

    Authentication: `Authorization: Bearer kcd_...` header on the upgrade request. Each text message is a
    batch (`{"readings": [...], "id": <client id, echoed>}`); the reply carries `stored`, `duplicates`,
    `rejected` and `alerts`, and is the acknowledgement: a reading is stored once its reply arrives.
    """

    device: Any = None

    async def connect(self) -> None:
        token = ""
        for name, value in self.scope.get("headers", []):
            if name == b"authorization" and value.lower().startswith(b"bearer "):
                token = value[7:].decode().strip()
        if not token:
            token = (parse_qs(self.scope.get("query_string", b"").decode()).get("token") or [""])[0]
        self.device = await self._auth(token)
        if self.device is None:
            await self.close(code=4401)
            return
        from ketaclinic.web.lib.live import device_group

        self.group = device_group(self.device.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_close(self, message: dict[str, Any]) -> None:
        """The device's token was rotated or the device revoked: the socket authenticated with it closes."""
        await self.close(code=4401)

    @db_sync_to_async
    def _auth(self, token: str) -> Any:
        from ketaclinic.web.monitoring.actions import authenticate_device

        return authenticate_device(token)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        arrived = time.time()
        raw = text_data.encode() if text_data is not None else (bytes_data or b"")
        msg_id = None
        try:
            try:
                obj = loads_limited(raw)
                if (
                    isinstance(obj, dict)
                    and isinstance(obj.get("id"), str | int)
                    and not isinstance(obj.get("id"), bool)
                ):
                    msg_id = obj.get("id")
            except ValueError:
                obj = None
            reply = await self._ingest(raw, arrived)
        except DomainError as exc:
            reply = exc.as_dict()
        except Exception:  # one bad batch must never close a device's stream
            logger.exception("device batch failed")
            reply = {
                "error": {
                    "code": "server_error",
                    "message": "the batch could not be stored; resend it",
                    "fields": {},
                }
            }
        if msg_id is not None:
            reply["id"] = msg_id
        await self.send(text_data=json.dumps(reply))

    @db_sync_to_async
    def _ingest(self, raw: bytes, arrived: float) -> dict[str, Any]:
        from ketaclinic.web.monitoring.actions import do_ingest_readings
        from ketaclinic.web.monitoring.api import parse_batch
        from ketaclinic.web.monitoring.models import Device

        # Re-check revocation on every batch: a revoked token must stop working on an open socket too.
        device = (
            Device.objects.filter(pk=self.device.pk, revoked_at__isnull=True).select_related("site").first()
        )
        if device is None:
            return {"error": {"code": "permission_denied", "message": "device revoked", "fields": {}}}
        if device.token_digest != self.device.token_digest:
            return {"error": {"code": "permission_denied", "message": "device token rotated", "fields": {}}}
        return do_ingest_readings(device=device, items=parse_batch(raw), arrived=arrived).as_response()


class BoardConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """`/ws/monitoring/board/<site_id>/`: staff who may view patients at the site get vitals and alerts."""

    group: str | None = None

    async def connect(self) -> None:
        from ketaclinic.web.monitoring.actions import board_group

        user = self.scope.get("user")
        site_id = int(self.scope["url_route"]["kwargs"]["site_id"])
        if user is None or not user.is_authenticated or not await self._may_view(user, site_id):
            await self.close(code=4403)
            return
        self.group = board_group(site_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        from ketaclinic.web.lib.live import user_group

        self.user_group = user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()

    @db_sync_to_async
    def _may_view(self, user: Any, site_id: int) -> bool:
        from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
        from ketaclinic.web.clinics.models import Site

        site = Site.objects.filter(pk=site_id).first()
        return site is not None and has_perm_in_clinic(user, site.clinic_id, Perm.CLINICAL_VIEW)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if getattr(self, "user_group", None):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def live_close(self, message: dict[str, Any]) -> None:
        await self.close(code=4401)
