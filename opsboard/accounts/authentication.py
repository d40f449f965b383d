"""``Authorization: Bearer <token>`` for the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from opsboard.accounts import services


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
        token = services.token_for_secret(parts[1].decode("latin-1"))
        if token is None:
            raise AuthenticationFailed("unknown or revoked API token")
        if not token.user.is_active:
            raise AuthenticationFailed("the API token's user is deactivated")
        services.touch_token(token)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="opsboard"'
