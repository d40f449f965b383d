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
        """Accept, then close with 4401 or 4403 when refused: closing before accepting makes
        the server answer the handshake with HTTP 403, and browsers see only code 1006."""
        user = await get_user(self.scope)
        role = self.required_role
        refusal = None
        if role not in roles.DECLARABLE:
            refusal = CLOSE_FORBIDDEN
        elif role != roles.PUBLIC and not user.is_authenticated:
            refusal = CLOSE_NOT_SIGNED_IN
        elif not await database_sync_to_async(has_role)(user, role):
            refusal = CLOSE_FORBIDDEN
        await self.accept()
        if refusal is not None:
            await self.close(code=refusal)
            return
        self.user = user
        await self.on_connected()

    async def on_connected(self) -> None:
        """Called once the connection is accepted; subclasses start here."""
