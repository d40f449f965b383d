"""The cardinality guard: how many new series a token may still create this minute.

Counts live in Redis (shared by every web process), per token and minute. If Redis is
unreachable, a push may still create up to one minute's allowance: ingest keeps working
through a Redis restart, and no single request can exceed the limit.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)


def _key(token_uid: str) -> str:
    return redis_key("push", "new-series", token_uid, str(int(time.time() // 60)))


def new_series_budget(token_uid: str, per_minute: int) -> int:
    try:
        used = int(redis_client().get(_key(token_uid)) or 0)
    except RedisError as exc:
        logger.warning("cardinality guard: Redis unavailable (%s); allowing one minute's allowance", exc)
        return per_minute
    return max(0, per_minute - used)


def spend_new_series(token_uid: str, created: int) -> None:
    if not created:
        return
    try:
        with redis_client().pipeline() as pipe:
            pipe.incrby(_key(token_uid), created).expire(_key(token_uid), 120).execute()
    except RedisError as exc:
        logger.warning("cardinality guard: could not count %d new series: %s", created, exc)
