"""One Redis client per process and URL, for the heartbeat, health checks and counters."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def redis_key(*parts: str) -> str:
    """A key under this installation's prefix, so that several installations can share a Redis."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))
