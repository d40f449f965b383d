"""Scheduling and running polls.

``dispatch_due()`` (beat, every second) claims each target whose next poll is due with an
UPDATE that must change exactly one row, moves its next poll one interval on, and sends one
``poll_target`` task to the target's queue. The task stamps everything it stores with the
slot's time, so a task run twice for one slot stores nothing twice; and it claims the
target for the length of the poll, so two polls of one target never overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from monitoring import store
from monitoring.collectors import ConfigError, Scrape
from monitoring.models import GpuNode, ModelEndpoint, Target
from monitoring.samples import InvalidSample
from opsboard import metrics

logger = logging.getLogger(__name__)

TARGETS_BY_ROLE: dict[str, type[Target]] = {"model": ModelEndpoint, "node": GpuNode}
# A poll that started this long after its timeout without finishing died with its worker.
STALE_AFTER = timedelta(seconds=30)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


SendPoll = Callable[[str, str, int, str, int], None]  # (role, uid, slot_ms, queue, expires_s)


def dispatch_due(send: SendPoll, now: datetime | None = None) -> int:
    """Send one poll per target that is due; returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for role, model in TARGETS_BY_ROLE.items():
        due = model.objects.filter(enabled=True).filter(Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True))
        for target in due.only("id", "uid", "next_poll_at", "interval_s", "queue"):
            slot = _claim(model, target, now)
            if slot is not None:
                send(role, str(target.uid), to_ms(slot), target.queue, target.interval_s)
                sent += 1
    return sent


def _claim(model: type[Target], target: Target, now: datetime) -> datetime | None:
    """Move the target's next poll on by one interval, if nobody else did; the slot claimed."""
    interval = timedelta(seconds=target.interval_s)
    slot = target.next_poll_at or now
    if now - slot >= interval:  # missed slots are skipped, not piled up
        slot = now
    claimed = model.objects.filter(pk=target.pk)
    claimed = (
        claimed.filter(next_poll_at=target.next_poll_at) if target.next_poll_at else claimed.filter(next_poll_at=None)
    )
    return slot if claimed.update(next_poll_at=slot + interval) == 1 else None


def poll(role: str, uid: str, slot_ms: int) -> str:
    """Poll one target for one slot: claim it, collect, store, record the outcome."""
    model = TARGETS_BY_ROLE[role]
    target = model.objects.filter(uid=uid).first()
    if target is None:
        return "skipped: the target was deleted"
    if not _start(model, target, slot_ms):
        return "skipped: this slot is done, the target is paused, or a poll of it is running"
    scrape = _collect(target, slot_ms)
    written = _store(target, scrape)
    _finish(model, target, slot_ms, scrape, written)
    metrics.count_poll(target.kind, scrape.up, timed_out=scrape.duration_s >= target.timeout_s, samples=written)
    return f"{'up' if scrape.up else 'down'}: {written} samples" + (f" ({scrape.error})" if scrape.error else "")


def _start(model: type[Target], target: Target, slot_ms: int) -> bool:
    now = timezone.now()
    stale = now - timedelta(seconds=target.timeout_s) - STALE_AFTER
    return (
        model.objects.filter(pk=target.pk, enabled=True)
        .filter(Q(last_slot_done__isnull=True) | Q(last_slot_done__lt=slot_ms))
        .filter(Q(polling_since__isnull=True) | Q(polling_since__lt=stale))
        .update(polling_slot=slot_ms, polling_since=now)
        == 1
    )


def _collect(target: Target, slot_ms: int) -> Scrape:
    try:
        spec = target.spec()
    except ConfigError as exc:
        return Scrape([], False, f"configuration: {exc}")
    try:
        return target.collector.collect(spec, slot_ms)
    except Exception as exc:  # a collector bug must show on the target, not kill the worker
        logger.exception("collector %s failed on %s", target.kind, target.name)
        return Scrape([], False, f"internal error in the {target.kind} collector: {type(exc).__name__}: {exc}")


def _store(target: Target, scrape: Scrape) -> int:
    try:
        return store.write(scrape.samples, target_uid=target.uid).received
    except InvalidSample as exc:
        scrape.up, scrape.error = False, f"refused by the store: {exc}"
        return 0


def _finish(model: type[Target], target: Target, slot_ms: int, scrape: Scrape, written: int) -> None:
    model.objects.filter(pk=target.pk, polling_slot=slot_ms).update(
        polling_since=None,
        last_slot_done=slot_ms,
        last_poll_at=timezone.now(),
        last_duration_s=scrape.duration_s,
        last_sample_count=written,
        last_up=scrape.up,
        last_error=scrape.error[:2000],
    )
