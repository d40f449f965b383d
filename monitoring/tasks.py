"""Periodic work of the time-series store."""

from __future__ import annotations

from celery import shared_task

from monitoring import rollups


@shared_task(name="monitoring.roll_up", ignore_result=True)
def roll_up() -> str:
    return f"rolled up {rollups.roll_up()} minutes"


@shared_task(name="monitoring.apply_retention", ignore_result=True)
def apply_retention() -> str:
    result = rollups.apply_retention()
    return (
        f"deleted {result.samples} samples, {result.minute_rollups} minute and {result.hour_rollups} hour rollups, "
        f"{result.series} series"
    )
