"""Live points: the store's announcements, sent to the pages that show those series.

Pages subscribe over a WebSocket (``monitoring.consumers.LiveConsumer``) with selectors;
each consumer joins one channel-layer group per metric name it watches and keeps that name
in a Redis sorted set with an expiry it refreshes. After a store write commits, ``publish``
sends one message per watched metric name carrying that name's new points, and each
consumer forwards the series its selectors match. Names nobody watches cost nothing but
one cached Redis read per second per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from monitoring.store import Touched
from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

WATCH_TTL_S = 120  # a consumer refreshes its names on every client ping (every 30 s)
_watched_cache: dict[str, Any] = {"at": 0.0, "names": frozenset()}
WATCHED_CACHE_S = 1.0


def group_for(metric: str) -> str:
    """The channel-layer group of one metric name (group names allow few characters)."""
    return "live." + hashlib.blake2b(metric.encode(), digest_size=12).hexdigest()


def watch(metrics: set[str]) -> None:
    """Mark ``metrics`` as watched for the next WATCH_TTL_S seconds."""
    if metrics:
        expiry = time.time() + WATCH_TTL_S
        redis_client().zadd(redis_key("live", "watched"), dict.fromkeys(metrics, expiry))
        # this process's writers publish them at once, not after their cache's next refresh
        _watched_cache["names"] = _watched_cache["names"] | frozenset(metrics)


def watched() -> frozenset[str]:
    """Metric names some page watches now (read at most once a second per process)."""
    now = time.monotonic()
    if now - _watched_cache["at"] < WATCHED_CACHE_S:
        return _watched_cache["names"]
    key = redis_key("live", "watched")
    try:
        client = redis_client()
        client.zremrangebyscore(key, 0, time.time())
        names = frozenset(name.decode() for name in client.zrange(key, 0, -1))
    except RedisError as exc:
        logger.warning("live: cannot read watched names: %s", exc)
        names = frozenset()
    _watched_cache.update(at=now, names=names)
    return names


def forget_watched_cache() -> None:
    _watched_cache.update(at=0.0, names=frozenset())


def publish(touched: Touched) -> None:
    """Store subscriber: send the new points of every watched metric name, one message each."""
    names = watched()
    if not names:
        return
    by_name: dict[str, dict[tuple, list]] = {}
    for sample in touched.samples:
        if sample.name in names:
            by_name.setdefault(sample.name, {}).setdefault(sample.labels, []).append(
                [sample.ts_ms, _json_value(sample.value)]
            )
    if by_name:
        layer = get_channel_layer()
        for name, series in by_name.items():
            message = {
                "type": "series.points",
                "name": name,
                "series": [{"labels": dict(labels), "points": sorted(points)} for labels, points in series.items()],
            }
            async_to_sync(layer.group_send)(group_for(name), message)


def _json_value(value: float) -> float | None:
    """NaN and ±Inf have no JSON spelling; the charts draw them as gaps."""
    return value if math.isfinite(value) else None
