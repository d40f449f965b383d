"""Liveness: the Celery heartbeat and the checks behind /healthz."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from celery import shared_task
from django.conf import settings
from django.db import connection

from opsboard.redis_client import redis_client, redis_key

# The heartbeat is stale after this many missed intervals.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@shared_task(name="opsboard.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Scheduled by beat, run by a worker: its freshness shows both are alive."""
    redis_client().set(redis_key("heartbeat"), repr(time.time()))
    return "ok"


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the database is not usable
        return Check("database", False, f"{type(exc).__name__}: {exc}".strip()[:200])
    return Check("database", True, connection.vendor)


def check_redis() -> Check:
    try:
        redis_client().ping()
    except Exception as exc:
        return Check("redis", False, f"{type(exc).__name__}: {exc}"[:200])
    return Check("redis", True, "ping ok")


def check_heartbeat() -> Check:
    """Fresh when a worker ran the beat-scheduled heartbeat within a few intervals."""
    try:
        raw = redis_client().get(redis_key("heartbeat"))
    except Exception:
        return Check("celery", False, "unknown: Redis is unreachable")
    if raw is None:
        return Check("celery", False, "no heartbeat yet: are the worker and beat running?")
    age = time.time() - float(raw)
    limit = STALE_AFTER_INTERVALS * settings.HEARTBEAT_INTERVAL
    if age > limit:
        return Check("celery", False, f"last heartbeat {age:.0f} s ago (limit {limit:.0f} s)")
    return Check("celery", True, f"last heartbeat {age:.1f} s ago")


def health_report() -> tuple[bool, dict[str, object]]:
    """(healthy, the JSON body for /healthz)."""
    checks = [check_database(), check_redis(), check_heartbeat()]
    healthy = all(check.ok for check in checks)
    body: dict[str, object] = {
        "status": "ok" if healthy else "down",
        "down": [check.name for check in checks if not check.ok],
        "checks": {check.name: asdict(check) for check in checks},
    }
    return healthy, body
