"""The browser's live socket: joins the user's group and the groups of their clinics' sites."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ketaclinic.web.lib.asyncdb import db_sync_to_async
from ketaclinic.web.lib.live import bedside_group, clinic_group, site_group, user_group


class LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """`/ws/live/`: authenticated staff only; forwards `live.event` messages as JSON."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await self._groups_for(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    @db_sync_to_async
    def _groups_for(self, user: Any) -> list[str]:
        from ketaclinic.web.accounts.models import effective_membership_q
        from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
        from ketaclinic.web.clinics.models import Site

        # Clinic and site groups carry clinical events (sessions, alerts): only clinics where the role may read them.
        clinic_ids = [
            c
            for c in sorted(
                set(user.memberships.filter(effective_membership_q()).values_list("clinic_id", flat=True))
            )
            if has_perm_in_clinic(user, c, Perm.CLINICAL_VIEW)
        ]
        groups = [user_group(user.pk)] + [clinic_group(c) for c in clinic_ids]
        # Alert toasts go to those who may act on them.
        groups += [
            bedside_group(c)
            for c in clinic_ids
            if has_perm_in_clinic(user, c, Perm.SESSION_RUN)
            or has_perm_in_clinic(user, c, Perm.ALERT_ACKNOWLEDGE)
        ]
        groups += [
            site_group(s) for s in Site.objects.filter(clinic_id__in=clinic_ids).values_list("pk", flat=True)
        ]
        return groups

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def live_close(self, message: dict[str, Any]) -> None:
        """The user signed out, was deactivated or lost a membership: close (the page reconnects if allowed)."""
        await self.close(code=4401)
