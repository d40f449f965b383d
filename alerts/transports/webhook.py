"""A generic webhook: the message as JSON, POSTed to a URL, signed when a secret is set.

The request
-----------
``POST <url>`` with ``Content-Type: application/json`` and these headers:

``X-Opsboard-Delivery``
    Unique per delivery, and the same on every retry of it: drop a delivery you have seen.
``X-Opsboard-Event``
    ``triggered``, ``escalated``, ``reminder``, ``acknowledged``, ``resolved``, ``reopened`` or ``test``.
``X-Opsboard-Timestamp``
    When this attempt was sent, in whole Unix seconds.
``X-Opsboard-Signature``
    Only when the webhook has a secret: ``sha256=`` and the hex HMAC-SHA256, keyed with the
    secret (UTF-8), of ``<timestamp>.<raw body bytes>``. Each attempt is signed anew.

The body (version "1"; fields may be added within a version, never removed or changed)::

    {
      "version": "1",
      "event": "triggered",
      "delivery_id": "7d7c…",
      "incident": {
        "id": "0b6f…", "code": "INC-42", "title": "GPU temperature high on gpu-3",
        "severity": "critical", "status": "triggered",
        "url": "https://opsboard.example/incidents/INC-42",
        "opened_at": "2025-05-01T12:00:00+00:00",
        "labels": {"node": "gpu-3"},
        "summary": "gpu-3 is at 91 °C"
      },
      "alerts": [
        {"labels": {"node": "gpu-3", "gpu": "0"}, "annotations": {"summary": "…"},
         "value": 91.0, "started_at": "2025-05-01T11:58:00+00:00"}
      ],
      "alerts_total": 1,
      "links": {"acknowledge": "https://…", "resolve": "https://…"},
      "recipient": "oncall-gpu"
    }

``alerts`` holds at most 100 alerts; ``alerts_total`` counts them all. An alert's ``value``
is null when there is none or it is not finite. A link is null where it makes no sense
(an incident already resolved cannot be acknowledged).

Any 2xx answer means received; 429 and 5xx are retried later, with the same delivery id;
other answers (4xx, redirects) are not. The answer's body is ignored.

Verifying the signature
-----------------------
``verify_signature`` below does it; a receiver without Opsboard needs only this::

    import hashlib, hmac, time

    def verified(secret: str, headers: dict, body: bytes) -> bool:
        timestamp = headers.get("X-Opsboard-Timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False  # missing, or more than 5 minutes old: perhaps a replay
        signed = timestamp.encode() + b"." + body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("X-Opsboard-Signature", ""))

Verify over the raw body as received, before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from alerts.messages import Message, webhook_payload
from alerts.transports.base import Delivery, Transport, check_http_url, post
from monitoring.collectors.base import config_from_dict

TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 64 * 1024
TOLERANCE_S = 300


@dataclass(frozen=True)
class WebhookConfig:
    """``secret`` empty: requests go unsigned."""

    url: str = ""
    secret: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookConfig:
        config = config_from_dict(cls, data)
        return replace(config, url=check_http_url("url", config.url))


class WebhookTransport(Transport):
    kind = "webhook"
    Config = WebhookConfig
    timeout_s: ClassVar[float] = TIMEOUT_S

    def notify(self, message: Message, config: WebhookConfig) -> Delivery:
        body = encode(webhook_payload(message))
        headers = signed_headers(body, config.secret, timestamp=int(time.time()))
        headers.update({"X-Opsboard-Delivery": message.delivery_id, "X-Opsboard-Event": message.event})
        return post(config.url, body, headers, timeout_s=self.timeout_s, max_bytes=MAX_ANSWER_BYTES)


def encode(payload: Any) -> bytes:
    """Compact UTF-8 JSON; the bytes that are signed are exactly the bytes that are sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def signed_headers(body: bytes, secret: str, *, timestamp: int) -> dict[str, str]:
    """Content type and timestamp, and the signature when there is a secret."""
    headers = {"Content-Type": "application/json", "X-Opsboard-Timestamp": str(timestamp)}
    if secret:
        headers["X-Opsboard-Signature"] = signature(secret, timestamp, body)
    return headers


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    header: str,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Whether ``header`` (X-Opsboard-Signature) signs ``body`` at ``timestamp``
    (X-Opsboard-Timestamp) with ``secret``, and the timestamp is within ``tolerance_s`` of
    ``now`` (either side, for clocks that disagree). An empty secret verifies nothing."""
    stamp = str(timestamp).strip()
    if not secret or not header or not (stamp.isascii() and stamp.isdigit()):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = signature(secret, stamp, raw).encode()
    return hmac.compare_digest(expected, header.strip().encode("utf-8", errors="replace"))
