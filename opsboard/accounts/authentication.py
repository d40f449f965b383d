"""``Authorization: Bearer <token>`` for the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from opsboard.accounts import security_events, services


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise _refused("the Authorization header must be 'Bearer <token>'")
        token = services.token_for_secret(parts[1].decode("latin-1"))
        if token is None:
            raise _refused("unknown or revoked API token")
        if not token.user.is_active:
            raise _refused("the API token's user is deactivated")
        services.touch_token(token)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="opsboard"'


def _refused(reason: str) -> AuthenticationFailed:
    """A 401 for a bearer token, counted as a security event."""
    security_events.count(security_events.TOKEN_REFUSED)
    return AuthenticationFailed(reason)
