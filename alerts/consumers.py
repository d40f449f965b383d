"""``/ws/incidents``: pages hear that incidents changed and how many are open."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from alerts import live
from opsboard import metrics
from opsboard.accounts import roles
from opsboard.accounts.consumers import RoleRequiredConsumer


class IncidentsConsumer(RoleRequiredConsumer):
    required_role = roles.VIEWER

    async def on_connected(self) -> None:
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        await metrics.socket_seen("incidents", self.channel_name)
        await self.send_json({"type": "incidents", "open": await database_sync_to_async(live.open_count)()})

    async def disconnect(self, code: int) -> None:
        await metrics.socket_gone("incidents", self.channel_name)
        await self.channel_layer.group_discard(live.GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await metrics.socket_seen("incidents", self.channel_name)
            await self.send_json({"type": "pong"})

    async def incidents_changed(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "incidents", "open": message["open"]})
