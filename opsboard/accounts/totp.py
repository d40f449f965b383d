"""Time-based one-time passwords (RFC 6238) and recovery codes. Framework-free.

Codes are the usual authenticator-app ones: 6 digits, 30-second steps, HMAC-SHA1. A code is
accepted for the current step and one step either side (clock skew), and the caller keeps
the newest accepted step so that no code is accepted twice.

Recovery codes carry 80 random bits, so, like API tokens, a plain SHA-256 digest is enough
to store them: a slow hash protects guessable secrets, and these are not guessable.
"""

from __future__ import annotations

import hmac
import re
import secrets

import pyotp
import segno

from opsboard.accounts import tokens

STEP_S = 30
DIGITS = 6
WINDOW_STEPS = 1
ISSUER = "Opsboard"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: 5 bits a character
RECOVERY_CODE_LENGTH = 16  # 80 bits
_SEPARATORS = re.compile(r"[\s-]+")


def new_secret() -> str:
    """A random 160-bit secret in base32, as authenticator apps take it."""
    return pyotp.random_base32()


def otpauth_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans (Google Authenticator's key URI format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an inline ``<svg>`` element, black on white for any page theme."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title=f"{ISSUER} sign-in code")


def normalise(code: str) -> str:
    """A typed code without spaces or dashes, in lower case."""
    return _SEPARATORS.sub("", code or "").lower()


def is_totp_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now_s: float, window: int = WINDOW_STEPS) -> int | None:
    """The 30-second step whose code is ``code``, within ``window`` steps of ``now_s``; None if none."""
    code = normalise(code)
    if not is_totp_shaped(code):
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = int(now_s // STEP_S)
    for step in range(current - window, current + window + 1):
        if step >= 0 and hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, now_s: float) -> str:
    """The code an authenticator app shows at ``now_s`` (for tests and diagnostics)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).generate_otp(int(now_s // STEP_S))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh recovery codes, formatted ``xxxx-xxxx-xxxx-xxxx`` for reading aloud and typing."""
    return [_format(_random_code()) for _ in range(count)]


def _random_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def _format(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def is_recovery_shaped(code: str) -> bool:
    return len(code) == RECOVERY_CODE_LENGTH and all(char in RECOVERY_ALPHABET for char in code)


def recovery_digest(code: str) -> str:
    """The stored form of a recovery code, whatever spacing, dashes or case it was typed with."""
    return tokens.digest_of(normalise(code))
