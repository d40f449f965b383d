"""Periodic work of the time-series store."""

from __future__ import annotations

from celery import shared_task

from monitoring import partitions, polling, rollups, runs


@shared_task(name="monitoring.roll_up", ignore_result=True)
def roll_up() -> str:
    return f"rolled up {rollups.roll_up()} minutes"


@shared_task(name="monitoring.apply_retention", ignore_result=True)
def apply_retention() -> str:
    result = rollups.apply_retention()
    return (
        f"dropped {result.sample_partitions} sample partitions, deleted {result.samples} samples, "
        f"{result.minute_rollups} minute and {result.hour_rollups} hour rollups, {result.series} series"
    )


@shared_task(name="monitoring.create_partitions", ignore_result=True)
def create_partitions() -> str:
    return f"created {partitions.create_ahead(rollups.now_ms())} sample partitions"


@shared_task(name="monitoring.dispatch_polls", ignore_result=True)
def dispatch_polls() -> str:
    return f"sent {polling.dispatch_due(send_poll)} polls"


def send_poll(role: str, uid: str, slot_ms: int, queue: str, expires_s: int) -> None:
    """A poll task on the target's queue, dropped if no worker starts it within one interval."""
    poll_target.apply_async((role, uid, slot_ms), queue=queue, expires=expires_s)


@shared_task(name="monitoring.poll_target", ignore_result=True)
def poll_target(role: str, uid: str, slot_ms: int) -> str:
    return polling.poll(role, uid, slot_ms)


@shared_task(name="monitoring.mark_stalled_runs", ignore_result=True)
def mark_stalled_runs() -> str:
    return f"{runs.mark_stalled()} runs stalled"
