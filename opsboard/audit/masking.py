"""Masking of secret values before they are written to the audit log or shown back."""

from __future__ import annotations

from typing import Any

MASK = "********"

# A key containing any of these words holds a secret (webhook URLs carry their token).
SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "private",
    "webhook_url",
    "headers",
)


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def mask_secrets(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``values`` in which every secret, at any depth, is replaced by a mask."""
    if values is None:
        return None
    return {key: _mask_value(key, value) for key, value in values.items()}


def _mask_value(key: str, value: Any) -> Any:
    if is_secret_key(key):
        return MASK if value not in (None, "", {}, []) else value
    if isinstance(value, dict):
        return mask_secrets(value)
    return value
