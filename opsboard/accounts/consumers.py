"""The base of every WebSocket consumer: it declares its role, checked on connect with the
same ``has_role`` as views and the API. A consumer that declares nothing is refused."""

from __future__ import annotations

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from opsboard.accounts import roles
from opsboard.accounts.permissions import has_role

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403


class RoleRequiredConsumer(AsyncJsonWebsocketConsumer):
    required_role: str | None = None

    async def connect(self) -> None:
        user = await get_user(self.scope)
        role = self.required_role
        if role not in roles.DECLARABLE:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if role != roles.PUBLIC and not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        if not await database_sync_to_async(has_role)(user, role):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        await self.accept()
        await self.on_connected()

    async def on_connected(self) -> None:
        """Called once the connection is accepted; subclasses start here."""
