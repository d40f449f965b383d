"""API token strings: generation and digests. Framework-free.

Tokens carry 256 bits of randomness, so a plain SHA-256 digest is enough to store them:
a slow password hash protects guessable secrets, and these are not guessable.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "opsb_"  # noqa: S105 (a fixed prefix, not a secret)
SHOWN_PREFIX_LENGTH = 12


def generate() -> tuple[str, str, str]:
    """A new token: (the secret to show once, its recognisable prefix, its digest)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:SHOWN_PREFIX_LENGTH], digest_of(secret)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
