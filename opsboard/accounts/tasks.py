"""Periodic work of accounts: the security-event counters into the store."""

from __future__ import annotations

import redis
from celery import shared_task

from opsboard.accounts import security_events


@shared_task(name="opsboard.export_security_events", ignore_result=True)
def export_security_events() -> str:
    """Scheduled every 15 s; a run skipped for Redis trouble loses nothing (the counts stay in Redis)."""
    try:
        written = security_events.export()
    except redis.RedisError as exc:
        return f"skipped: Redis is unreachable ({exc})"
    return f"wrote {written} security event totals"
