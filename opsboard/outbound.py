"""The one way out: every outbound HTTP request of collectors and transports goes here.

Framework-free. It enforces the scheme (http and https only), an overall deadline (a
server that trickles bytes cannot hold a worker past it), a cap on the body size, and a
user agent; where the URL comes from a user and must not reach inside the network,
``allow_private=False`` refuses private, loopback and link-local addresses.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

USER_AGENT = "Opsboard/1"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class OutboundError(Exception):
    """A request that failed; the message says how, in words an operator can act on."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed_s: float

    @property
    def text(self) -> str:
        return self.body.decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.body)
        except ValueError as exc:
            raise OutboundError(f"the answer is not JSON: {exc}") from None


def _charset(headers: httpx.Headers) -> str:
    for part in headers.get("content-type", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def check_url(url: str, *, allow_private: bool = True) -> None:
    """Refuse what no request should be sent to: other schemes, no host, and (when asked)
    addresses inside the network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundError(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise OutboundError(f"the URL {url!r} names no host")
    if not allow_private:
        _refuse_private(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _refuse_private(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise OutboundError(f"cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise OutboundError(
                f"{host} resolves to {address}, an address inside the network, which is not allowed here"
            )


_client: httpx.Client | None = None


def _shared_client() -> httpx.Client:
    """One pooled client per process (httpx clients are thread-safe)."""
    global _client
    if _client is None:
        _client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
    return _client


def request(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_private: bool = True,
) -> Response:
    """Send one request and read the whole answer, within ``timeout_s`` and ``max_bytes``."""
    started = time.monotonic()
    with stream(
        method, url, timeout_s=timeout_s, headers=headers, json=json, content=content, allow_private=allow_private
    ) as (response, chunks):
        body = bytearray()
        for chunk in chunks:
            body += chunk
            if len(body) > max_bytes:
                raise OutboundError(f"the answer is larger than {max_bytes} bytes")
        return Response(response.status_code, response.headers, bytes(body), time.monotonic() - started)


@contextmanager
def stream(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    allow_private: bool = True,
) -> Iterator[tuple[httpx.Response, Iterator[bytes]]]:
    """The response and an iterator over its body chunks, which stops at the deadline.

    The deadline is overall: each read also waits at most ``timeout_s``, so the worst case
    is a little under twice the timeout for a server that stalls in the middle of a read.
    """
    check_url(url, allow_private=allow_private)
    deadline = time.monotonic() + timeout_s
    timeout = httpx.Timeout(timeout_s, pool=min(timeout_s, 5.0))
    try:
        with _shared_client().stream(
            method, url, headers=headers, json=json, content=content, timeout=timeout
        ) as response:
            yield response, _until(deadline, timeout_s, response.iter_bytes())
    except httpx.TimeoutException:
        raise OutboundError(f"no answer within {timeout_s:g} s") from None
    except httpx.ConnectError as exc:
        raise OutboundError(f"cannot connect: {_reason(exc)}") from None
    except httpx.HTTPError as exc:
        raise OutboundError(f"{type(exc).__name__}: {_reason(exc)}") from None


def _until(deadline: float, timeout_s: float, chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise OutboundError(f"the answer took longer than {timeout_s:g} s")
        yield chunk


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("[Errno 111] ", "").replace("[Errno -2] ", "")
