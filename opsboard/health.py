"""Liveness: the Celery heartbeat, beat's ticks, the evaluator's passes, the checks behind
/healthz, and the optional external dead man's switch.

Each part proves itself alive by writing a time to Redis: a worker running the heartbeat
task that beat schedules (``celery``), beat sending its due tasks (``beat``), and the last
``alerts.evaluate_rules`` task of a pass finishing (``evaluator``). /healthz turns 503
naming whichever is late, and since when.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from celery.signals import after_task_publish, beat_init
from django.conf import settings
from django.db import connection
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from opsboard import outbound
from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

# The heartbeat is stale after this many missed intervals.
STALE_AFTER_INTERVALS = 3
# Beat and the evaluator are late after this many missed intervals.
LATE_AFTER_INTERVALS = 2
PING_TIMEOUT_S = 5.0
# Redis keys of the times each part was last seen alive.
ALIVE_KEYS = {"celery": "heartbeat", "beat": "beat", "evaluator": "evaluator"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    since: str = ""  # when a late part became late, ISO 8601 in UTC


@shared_task(name="opsboard.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Scheduled by beat, run by a worker: its freshness shows both are alive."""
    _mark_alive("celery")
    return "ok"


# --- Beat ------------------------------------------------------------------------------------


class _Beat:
    """The thread of this process that runs beat (None outside beat), and when it last
    wrote its tick. This process's identity, not state that processes share."""

    thread: int | None = None
    marked = 0.0


@beat_init.connect
def _beat_started(**kwargs: Any) -> None:
    _Beat.thread = threading.get_ident()
    mark_beat_tick()


@after_task_publish.connect
def _task_published(**kwargs: Any) -> None:
    """Beat's ticks are the tasks it sends: at least the heartbeat every HEARTBEAT_INTERVAL."""
    if _Beat.thread == threading.get_ident() and time.monotonic() - _Beat.marked >= 1.0:
        mark_beat_tick()


def mark_beat_tick() -> None:
    """Beat is alive now. Never raises: beat goes on sending whatever happens here."""
    _Beat.marked = time.monotonic()
    _mark_alive("beat")


def _mark_alive(part: str) -> None:
    try:
        redis_client().set(redis_key(ALIVE_KEYS[part]), repr(time.time()))
    except Exception as exc:
        logger.warning("cannot record that %s is alive: %s: %s", part, type(exc).__name__, exc)


# --- The evaluator -------------------------------------------------------------------------

# Count one chunk of a pass done, forgetting the pass with its last chunk; -1 when the pass
# is unknown (never started, or expired).
_FINISH_CHUNK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local left = redis.call('DECR', KEYS[1])
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
"""


def _pass_key(pass_ms: int) -> str:
    return redis_key("evaluation-pass", str(pass_ms))


def evaluation_pass_started(pass_ms: int, chunks: int) -> None:
    """``alerts.evaluate_all`` sent a pass of ``chunks`` tasks (none: the pass is complete)."""
    if chunks == 0:
        evaluation_pass_done()
        return
    try:
        expiry = max(60, int(10 * settings.EVAL_INTERVAL_S))
        redis_client().set(_pass_key(pass_ms), chunks, ex=expiry)
    except Exception as exc:
        logger.warning("cannot record the evaluation pass at %s: %s: %s", pass_ms, type(exc).__name__, exc)


def evaluation_chunk_done(pass_ms: int) -> None:
    """An ``alerts.evaluate_rules`` task of the pass at ``pass_ms`` finished; the last one
    completes the pass."""
    try:
        left = redis_client().eval(_FINISH_CHUNK, 1, _pass_key(pass_ms))
    except Exception as exc:
        logger.warning("cannot count a chunk of the evaluation pass at %s: %s: %s", pass_ms, type(exc).__name__, exc)
        return
    if left == 0:
        evaluation_pass_done()


def evaluation_pass_done() -> None:
    _mark_alive("evaluator")
    ping_external()


# --- The external dead man's switch ----------------------------------------------------------


def ping_external() -> None:
    """GET ``OPSBOARD_HEARTBEAT_URL`` when Opsboard is healthy, at most once per
    ``OPSBOARD_HEARTBEAT_EVERY_S`` across every worker, so that a checker outside pages
    when Opsboard itself stops. A failure is logged; it never breaks the pass."""
    url = settings.OPSBOARD_HEARTBEAT_URL
    if not url:
        return
    host = urlsplit(url).hostname  # the URL itself may hold the check's secret
    try:
        if not redis_client().set(redis_key("heartbeat-ping"), "1", nx=True, ex=settings.OPSBOARD_HEARTBEAT_EVERY_S):
            return
        healthy, report = health_report()
        if not healthy:
            logger.warning("external heartbeat to %s not sent: %s down", host, ", ".join(report["down"]))
            return
        response = outbound.request("GET", url, timeout_s=PING_TIMEOUT_S, max_bytes=64 * 1024)
    except Exception as exc:
        logger.warning("external heartbeat to %s failed: %s: %s", host, type(exc).__name__, exc)
        return
    if response.status >= 400:
        logger.warning("external heartbeat to %s answered HTTP %s", host, response.status)


# --- Checks ------------------------------------------------------------------------------------


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the database is not usable
        return Check("database", False, f"{type(exc).__name__}: {exc}".strip()[:200])
    return Check("database", True, connection.vendor)


# When each part was last seen alive (Unix time; None: never), or None when Redis did not answer.
AliveTimes = dict[str, float | None] | None
_FETCH: Any = object()  # a check called alone reads the times itself


def alive_times() -> dict[str, float | None]:
    """Every part's last sign of life, in one round trip. Raises for Redis trouble."""
    raw = redis_client().mget([redis_key(key) for key in ALIVE_KEYS.values()])
    return {part: None if value is None else float(value) for part, value in zip(ALIVE_KEYS, raw, strict=True)}


def _alive_times_or_none() -> AliveTimes:
    try:
        return alive_times()
    except Exception:
        return None


def check_heartbeat(times: AliveTimes = _FETCH) -> Check:
    """A worker ran the heartbeat beat schedules every HEARTBEAT_INTERVAL, within a few intervals."""
    never = "no heartbeat yet: are the worker and beat running?"
    return _check_late("celery", times, settings.HEARTBEAT_INTERVAL, "heartbeat", never, STALE_AFTER_INTERVALS)


def check_beat(times: AliveTimes = _FETCH) -> Check:
    """Beat sends the heartbeat every HEARTBEAT_INTERVAL, so it ticks at least that often."""
    return _check_late("beat", times, settings.HEARTBEAT_INTERVAL, "tick", "no tick yet: is celery beat running?")


def check_evaluator(times: AliveTimes = _FETCH) -> Check:
    never = "no evaluation pass completed yet: are beat and the evaluator worker running?"
    return _check_late("evaluator", times, settings.EVAL_INTERVAL_S, "pass completed", never)


def _check_late(
    part: str, times: AliveTimes, interval_s: float, what: str, never: str, intervals: int = LATE_AFTER_INTERVALS
) -> Check:
    """Late when nothing was seen for ``intervals`` intervals; ``since`` says when that happened."""
    if times is _FETCH:
        times = _alive_times_or_none()
    if times is None:
        return Check(part, False, "unknown: Redis is unreachable")
    last = times[part]
    if last is None:
        return Check(part, False, never)
    age, limit = time.time() - last, intervals * interval_s
    if age <= limit:
        return Check(part, True, f"last {what} {age:.1f} s ago")
    since = datetime.fromtimestamp(last + limit, UTC)
    detail = f"late since {since:%Y-%m-%d %H:%M:%S} UTC: last {what} {age:.0f} s ago, expected every {interval_s:g} s"
    return Check(part, False, detail, since.isoformat(timespec="seconds"))


def health_report() -> tuple[bool, dict[str, object]]:
    """(healthy, the JSON body for /healthz): one query and one Redis round trip."""
    try:
        times: AliveTimes = alive_times()
        redis = Check("redis", True, "answered")
    except Exception as exc:  # any client error means Redis is not usable
        times, redis = None, Check("redis", False, f"{type(exc).__name__}: {exc}"[:200])
    checks = [check_database(), redis, check_heartbeat(times), check_beat(times), check_evaluator(times)]
    healthy = all(check.ok for check in checks)
    body: dict[str, object] = {
        "status": "ok" if healthy else "down",
        "down": [check.name for check in checks if not check.ok],
        "checks": {check.name: asdict(check) for check in checks},
    }
    return healthy, body


class LivenessCollector(Collector):
    """For /metrics: when each part was last seen alive, so that a Prometheus outside can
    alert on Opsboard itself."""

    def collect(self) -> Iterator[Metric]:
        try:
            times = alive_times()
        except Exception as exc:
            logger.warning("metrics: cannot read the liveness times: %s", exc)
            return
        family = GaugeMetricFamily(
            "opsboard_last_alive_timestamp_seconds",
            "When each part last showed it was alive (Unix time): celery, a worker ran the heartbeat; "
            "beat, beat sent tasks; evaluator, an evaluation pass completed.",
            labels=["component"],
        )
        for part, last in times.items():
            if last is not None:
                family.add_metric([part], last)
        yield family
