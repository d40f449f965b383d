"""The base of every WebSocket consumer: it declares its role, checked on connect with the
same ``has_role`` as views and the API. A consumer that declares nothing is refused."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from opsboard.accounts import roles, second_factor, security_events
from opsboard.accounts.permissions import has_role

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403


class RoleRequiredConsumer(AsyncJsonWebsocketConsumer):
    required_role: str | None = None

    async def connect(self) -> None:
        """Accept, then close with 4401 or 4403 when refused: closing before accepting makes
        the server answer the handshake with HTTP 403, and browsers see only code 1006."""
        user = await get_user(self.scope)
        refusal = await self._refusal(user)
        await self.accept()
        if refusal == CLOSE_FORBIDDEN:
            await sync_to_async(security_events.count)(security_events.PERMISSION_DENIED)
        if refusal is not None:
            await self.close(code=refusal)
            return
        self.user = user
        await self.on_connected()

    async def _refusal(self, user: Any) -> int | None:
        """The close code refusing ``user``, or None to let them in."""
        role = self.required_role
        if role not in roles.DECLARABLE:
            return CLOSE_FORBIDDEN
        if role != roles.PUBLIC and not user.is_authenticated:
            return CLOSE_NOT_SIGNED_IN
        if not await database_sync_to_async(has_role)(user, role):
            return CLOSE_FORBIDDEN
        if settings.REQUIRE_TOTP_FOR_ADMINS and await database_sync_to_async(second_factor.must_enrol)(user):
            return CLOSE_FORBIDDEN  # an Admin held to a second factor sets one up first
        return None

    async def on_connected(self) -> None:
        """Called once the connection is accepted; subclasses start here."""
