"""Security events as a series: ``opsboard_security_events_total{kind}``, a counter per kind.

Counting happens on the request path, so it must neither fail nor wait when something is
wrong: a request adds one to a Redis counter per kind (one INCR), and a beat task copies the
totals into the store every 15 s. Redis keeps the totals across restarts of Opsboard's
processes; if Redis itself loses them, the series starts again from 0, which ``increase()``
and ``rate()`` read as a counter reset, as Prometheus does for a restarted exporter.

When Redis cannot be reached the event is logged and dropped, and counting pauses for a few
seconds in this process, so that a burst of refused requests during an outage does not wait
on a connection timeout each.
"""

from __future__ import annotations

import logging
import time

import redis

from monitoring import store
from monitoring.samples import sample
from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

METRIC = "opsboard_security_events_total"
LOGIN_FAILED = "login_failed"
LOCKOUT = "lockout"
TOKEN_REFUSED = "token_refused"  # noqa: S105 (a label value, not a secret)
PERMISSION_DENIED = "permission_denied"
TOTP_FAILED = "totp_failed"
KINDS = (LOGIN_FAILED, LOCKOUT, TOKEN_REFUSED, PERMISSION_DENIED, TOTP_FAILED)
PAUSE_AFTER_ERROR_S = 5.0

# Per process, and only an optimisation: no two processes need to agree on it.
_paused_until = 0.0


def _key(kind: str) -> str:
    return redis_key("security_events", kind)


def count(kind: str) -> None:
    """Add one to ``kind``'s counter. Never raises for Redis trouble (an unknown kind is a bug, and raises)."""
    global _paused_until
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}; known: {', '.join(KINDS)}")
    if time.time() < _paused_until:
        logger.warning("security event %s not counted: Redis was unreachable moments ago", kind)
        return
    try:
        redis_client().incr(_key(kind))
    except redis.RedisError as exc:
        _paused_until = time.time() + PAUSE_AFTER_ERROR_S
        logger.warning("security event %s not counted: %s", kind, exc)


def totals() -> dict[str, int]:
    """Every kind's count so far (0 for a kind never counted). Raises redis.RedisError."""
    values = redis_client().mget([_key(kind) for kind in KINDS])
    return {kind: int(value or 0) for kind, value in zip(KINDS, values, strict=True)}


def export() -> int:
    """Write the current totals into the store, one sample per kind, stamped now; the number written.

    Raises redis.RedisError when the totals cannot be read: writing zeros instead would look
    like a counter reset, and the next real total like a burst of events.
    """
    now_ms = int(time.time() * 1000)
    samples = [sample(METRIC, {"kind": kind}, now_ms, value) for kind, value in totals().items()]
    return store.write(samples).written
