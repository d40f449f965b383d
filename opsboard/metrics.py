"""Opsboard's own metrics, served at ``/metrics`` in Prometheus's text format.

Where the numbers live: Opsboard runs as separate processes (daphne, several Celery
workers, possibly on several machines, and beat), and a sample counted by a poller must
show on the web's ``/metrics``. So the counters are kept in Redis, which every process
already shares: one hash per metric and one field per label set, bumped with HINCRBY (a
histogram observation is one pipelined round trip). At scrape time ``OpsboardCollector``
reads them all in one pipelined round trip, with the Celery queues and the WebSocket
clients, and prometheus_client renders them beside the serving process's own figures.

prometheus_client's multiprocess mode was the alternative; it needs one directory shared
by every process (so one machine), ``PROMETHEUS_MULTIPROC_DIR`` in every process's
environment (the Procfile, systemd units, containers), and cleaning at each restart.
Counters in Redis survive process restarts and reset only when Redis loses its data,
which ``rate()`` treats as any counter reset.

Counting never breaks what is counted: an error is logged and counting pauses in this
process for ``PAUSE_S``, so an unreachable Redis costs the hot path one connection
timeout per pause, not one per write.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import sync_to_async
from celery.signals import before_task_publish
from django.conf import settings
from django.db import DatabaseError
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

PAUSE_S = 10.0
# Pages ping their sockets every 30 s; a client unheard of for this long is gone (its
# server process died without a disconnect).
SOCKET_STALE_S = 90.0
SOCKETS = ("live", "incidents")
# The header every published task carries, for the age of the oldest waiting one.
SENT_AT_HEADER = "opsboard_sent_at"
EVALUATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)


@dataclass(frozen=True)
class Spec:
    """A counter or histogram kept in Redis; ``name`` without the ``_total`` suffix."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


SAMPLES = Spec("opsboard_samples_ingested", "Samples received by the store, by source (push or poll).", ("source",))
POLLS = Spec("opsboard_polls", "Polls run, by target kind and result (ok, error, timeout).", ("kind", "result"))
RULES = Spec("opsboard_rules_evaluated", "Rule evaluations, in passes and on data arrival.")
NOTIFICATIONS = Spec(
    "opsboard_notification_attempts",
    "Notification delivery attempts, by transport and result (delivered, retrying, failed).",
    ("transport", "result"),
)
COUNTERS = (SAMPLES, POLLS, RULES, NOTIFICATIONS)
EVALUATION = Spec("opsboard_evaluation_duration_seconds", "Duration of one evaluation of a batch of rules.")


# --- Counting (every process) -------------------------------------------------------------


class _Pause:
    """After a failure, counting stops in this process for a while (not shared: each
    process finds out for itself that Redis is back)."""

    until = 0.0
    lock = threading.Lock()


def _safely(action: Callable[[redis.Redis], Any]) -> None:
    """Run ``action`` on Redis unless counting is paused; never raise."""
    if time.monotonic() < _Pause.until:
        return
    try:
        action(redis_client())
    except Exception as exc:  # whatever went wrong, the thing being counted goes on
        with _Pause.lock:
            _Pause.until = time.monotonic() + PAUSE_S
        logger.warning("metrics: counting paused for %.0f s: %s: %s", PAUSE_S, type(exc).__name__, exc)


def _key(*parts: str) -> str:
    return redis_key("metrics", *parts)


def _field(values: Iterable[str]) -> str:
    return json.dumps(list(values))


def inc(spec: Spec, *values: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter ``spec`` for the label values ``values``."""
    if amount:
        _safely(lambda client: client.hincrby(_key(spec.name), _field(values), amount))


def count_samples(source: str, count: int) -> None:
    inc(SAMPLES, source, amount=count)


def count_poll(kind: str, up: bool, timed_out: bool, samples: int) -> None:
    """A poll and the samples it stored, in one round trip. A poll that failed having used
    its whole timeout counts as a timeout."""
    result = "ok" if up else "timeout" if timed_out else "error"

    def send(client: redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(_key(POLLS.name), _field((kind, result)), 1)
        if samples:
            pipe.hincrby(_key(SAMPLES.name), _field(("poll",)), samples)
        pipe.execute()

    _safely(send)


def count_notification(transport: str, status: str) -> None:
    """An attempt, by the status it left the notification in (pending: to be retried)."""
    inc(NOTIFICATIONS, transport, "retrying" if status == "pending" else status)


def observe_evaluation(duration_s: float, rules: int) -> None:
    """One evaluation of ``rules`` rules: one round trip to Redis, however many rules."""
    bucket = next(le for le in EVALUATION_BUCKETS if duration_s <= le)

    def send(client: redis.Redis) -> None:
        key = _key(EVALUATION.name)
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(key, _le(bucket), 1)
        pipe.hincrbyfloat(key, "sum", duration_s)
        pipe.hincrby(_key(RULES.name), _field(()), rules)
        pipe.execute()

    _safely(send)


def _le(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(bound)


# --- WebSocket clients -------------------------------------------------------------------


def _socket_seen(socket: str, channel: str) -> None:
    _safely(lambda client: client.zadd(_key("sockets", socket), {channel: time.time()}))


def _socket_gone(socket: str, channel: str) -> None:
    _safely(lambda client: client.zrem(_key("sockets", socket), channel))


async def socket_seen(socket: str, channel: str) -> None:
    """A client of ``socket`` connected or pinged: a member of a sorted set, scored by the
    time. Off the event loop, so a slow Redis does not stall every socket of the process."""
    await sync_to_async(_socket_seen, thread_sensitive=False)(socket, channel)


async def socket_gone(socket: str, channel: str) -> None:
    await sync_to_async(_socket_gone, thread_sensitive=False)(socket, channel)


# --- Queue age -------------------------------------------------------------------------------


@before_task_publish.connect
def _stamp_sent_at(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Every task message carries its publication time, so the age of the oldest waiting
    one costs a scrape one LINDEX per queue."""
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, time.time())


# --- Rendering (the process serving /metrics) ------------------------------------------------


def registry(*extra: Collector) -> CollectorRegistry:
    """What one scrape renders: this process's figures (CPU, memory, open files, garbage
    collection, Python version), Opsboard's counters, and ``extra``."""
    scrape = CollectorRegistry(auto_describe=False)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, OpsboardCollector(), *extra):
        scrape.register(collector)
    return scrape


def queue_names() -> list[str]:
    """The configured Celery queues and every queue a target names (those alone when the
    database does not answer)."""
    from monitoring.models import GpuNode, ModelEndpoint  # the store imports this module

    names = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    try:
        for model in (ModelEndpoint, GpuNode):
            names.update(model.objects.order_by().values_list("queue", flat=True).distinct())
    except DatabaseError as exc:
        logger.warning("metrics: cannot list the targets' queues: %s", exc)
    return sorted(names)


class OpsboardCollector(Collector):
    """The counters, queues and sockets, read from Redis at scrape time. With Redis down,
    ``opsboard_metrics_redis_up`` is 0 and the rest of the scrape still answers."""

    def collect(self) -> Iterator[Metric]:
        queues = queue_names()
        try:
            replies = self._read(queues)
        except redis.RedisError as exc:
            logger.warning("metrics: cannot read Redis: %s", exc)
            yield _gauge("opsboard_metrics_redis_up", "Whether Redis answered this scrape.", [((), 0)])
            return
        yield _gauge("opsboard_metrics_redis_up", "Whether Redis answered this scrape.", [((), 1)])
        yield from (_counter(spec, replies.pop(0)) for spec in COUNTERS)
        yield _histogram(replies.pop(0))
        yield from _queue_metrics(queues, replies[: 2 * len(queues)])
        yield _socket_metric(replies[2 * len(queues) :])

    def _read(self, queues: list[str]) -> list[Any]:
        pipe = redis_client().pipeline(transaction=False)
        for spec in (*COUNTERS, EVALUATION):
            pipe.hgetall(_key(spec.name))
        for queue in queues:  # kombu keeps a queue as a list: new messages left, taken right
            pipe.llen(queue)
            pipe.lindex(queue, -1)
        stale = time.time() - SOCKET_STALE_S
        for socket in SOCKETS:
            pipe.zremrangebyscore(_key("sockets", socket), "-inf", stale)
            pipe.zcard(_key("sockets", socket))
        return pipe.execute()


def _gauge(name: str, help: str, rows: list[tuple[tuple[str, ...], float]], labels: tuple[str, ...] = ()) -> Metric:
    family = GaugeMetricFamily(name, help, labels=list(labels))
    for values, value in rows:
        family.add_metric(list(values), value)
    return family


def _counter(spec: Spec, fields: dict[bytes, bytes]) -> Metric:
    family = CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
    for field, value in sorted(fields.items()):
        family.add_metric(json.loads(field), float(value))
    return family


def _histogram(fields: dict[bytes, bytes]) -> Metric:
    """Buckets are stored apart (one increment an observation) and added up here."""
    counts = {key.decode(): float(value) for key, value in fields.items()}
    buckets, running = [], 0.0
    for bound in EVALUATION_BUCKETS:
        running += counts.get(_le(bound), 0.0)
        buckets.append((_le(bound), running))
    return HistogramMetricFamily(EVALUATION.name, EVALUATION.help, buckets=buckets, sum_value=counts.get("sum", 0.0))


def _queue_metrics(queues: list[str], replies: list[Any]) -> Iterator[Metric]:
    now = time.time()
    lengths, ages = [], []
    for queue, length, oldest in zip(queues, replies[0::2], replies[1::2], strict=True):
        lengths.append(((queue,), float(length)))
        sent_at = _sent_at(oldest)
        ages.append(((queue,), max(0.0, now - sent_at) if sent_at is not None else 0.0))
    yield _gauge("opsboard_celery_queue_length", "Tasks waiting in each Celery queue.", lengths, ("queue",))
    yield _gauge(
        "opsboard_celery_queue_oldest_task_age_seconds",
        "How long the oldest task waiting in each Celery queue has waited (0 when none waits).",
        ages,
        ("queue",),
    )


def _sent_at(message: bytes | None) -> float | None:
    """The publication time a task message carries; None for none or a foreign message."""
    if message is None:
        return None
    try:
        return float(json.loads(message)["headers"][SENT_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return None


def _socket_metric(replies: list[Any]) -> Metric:
    rows = [((socket,), float(count)) for socket, count in zip(SOCKETS, replies[1::2], strict=True)]
    return _gauge("opsboard_websocket_clients", "WebSocket clients connected, by socket.", rows, ("socket",))
