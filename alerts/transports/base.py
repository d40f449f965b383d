"""What every transport shares: the outcome of one delivery, the base class, and the one
way transports post over HTTP.

A transport is a small class with one method, ``notify(message, config)``, that sends one
message and never raises for anything the receiver does: it answers a ``Delivery`` that says
whether trying again could help.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings

from alerts.messages import Message
from monitoring.collectors.base import ConfigError
from opsboard import outbound

DEFAULT_PRIVATE_ALLOWLIST = ("127.0.0.1", "localhost", "::1")
_ERROR_SNIPPET = 200


@dataclass(frozen=True)
class Delivery:
    """How one attempt went. ``status`` is the HTTP status, or None (mail, or no answer)."""

    ok: bool
    status: int | None
    error: str
    retry: bool  # whether trying again could help

    @classmethod
    def sent(cls, status: int | None = None) -> Delivery:
        return cls(ok=True, status=status, error="", retry=False)

    @classmethod
    def failed(cls, error: str, *, retry: bool, status: int | None = None) -> Delivery:
        return cls(ok=False, status=status, error=error, retry=retry)


class Transport(ABC):
    """Base of the transport kinds; subclasses set ``kind`` and ``Config`` and implement ``notify``."""

    kind: ClassVar[str]
    Config: ClassVar[type]

    @abstractmethod
    def notify(self, message: Message, config: Any) -> Delivery:
        """Send ``message`` once; never raise for anything the receiver does."""


def check_http_url(name: str, url: str) -> str:
    """``url`` stripped, or ConfigError naming the field when it is not an http(s) URL with a host."""
    url = url.strip()
    if not url:
        raise ConfigError(name, "a URL is needed")
    try:
        outbound.check_url(url)
    except outbound.OutboundError as exc:
        raise ConfigError(name, str(exc)) from None
    return url


def allow_private_for(url: str) -> bool:
    """Whether ``url`` may reach an address inside the network: hosts on the allowlist may,
    others only when ``NOTIFY_ALLOW_PRIVATE`` says so."""
    host = (urlsplit(url).hostname or "").lower()
    allowlist = getattr(settings, "NOTIFY_PRIVATE_ALLOWLIST", DEFAULT_PRIVATE_ALLOWLIST)
    if host and host in {name.strip("[]").lower() for name in allowlist}:
        return True
    return bool(getattr(settings, "NOTIFY_ALLOW_PRIVATE", False))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float, max_bytes: int) -> Delivery:
    """POST ``body`` through the chokepoint and judge the answer by its status.

    Only the first ``max_bytes`` of the answer are read (for the error text): a receiver that
    took the message and then answers at length, or slowly, has still received it.
    """
    status: int | None = None
    answer = b""
    try:
        with outbound.stream(
            "POST", url, timeout_s=timeout_s, headers=headers, content=body, allow_private=allow_private_for(url)
        ) as (response, chunks):
            status = response.status_code
            answer = _read_at_most(chunks, max_bytes)
    except outbound.OutboundError as exc:
        if status is None:
            return Delivery.failed(str(exc), retry=True)
    return judge(status, answer)


def _read_at_most(chunks: Iterator[bytes], max_bytes: int) -> bytes:
    answer = bytearray()
    for chunk in chunks:
        answer += chunk
        if len(answer) >= max_bytes:
            break
    return bytes(answer[:max_bytes])


def judge(status: int, answer: bytes = b"") -> Delivery:
    """2xx: sent. 429 and 5xx: failed, worth retrying. Anything else (4xx, a redirect): failed for good."""
    if 200 <= status < 300:
        return Delivery.sent(status)
    error = f"HTTP {status}"
    if 300 <= status < 400:
        error += " (redirects are not followed: use the final address)"
    snippet = _snippet(answer)
    if snippet:
        error += f": {snippet}"
    return Delivery.failed(error, status=status, retry=status == 429 or status >= 500)


def _snippet(answer: bytes) -> str:
    """The start of the receiver's answer on one line, for the operator reading the error."""
    text = " ".join(answer[: _ERROR_SNIPPET * 4].decode("utf-8", errors="replace").split())
    return text if len(text) <= _ERROR_SNIPPET else text[: _ERROR_SNIPPET - 1] + "…"
