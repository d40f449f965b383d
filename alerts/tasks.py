"""Evaluation tasks: the beat pass over every rule (fanned out in chunks) and the
evaluations on arrival."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from alerts import arrival, delivery, evaluation, paging
from alerts.models import AlertRule
from opsboard import health


@shared_task(name="alerts.evaluate_all", ignore_result=True)
def evaluate_all() -> str:
    """The periodic pass: every enabled rule at one moment, in chunks a worker each."""
    now_ms = int(time.time() * 1000)
    ids = list(AlertRule.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    size = settings.EVAL_CHUNK
    health.evaluation_pass_started(now_ms, (len(ids) + size - 1) // size)
    for start in range(0, len(ids), size):
        evaluate_rules.apply_async((ids[start : start + size], now_ms), queue="alerts")
    return f"{len(ids)} rules in {(len(ids) + size - 1) // size} chunks"


@shared_task(name="alerts.evaluate_rules", ignore_result=True)
def evaluate_rules(rule_ids: list[int], now_ms: int | None = None) -> str:
    transitions = evaluation.evaluate_many(rule_ids, now_ms)
    if now_ms is not None:  # a chunk of a pass; the last one to finish completes it
        health.evaluation_chunk_done(now_ms)
    return f"{transitions} transitions"


@shared_task(name="alerts.evaluate_on_arrival", ignore_result=True)
def evaluate_on_arrival(rule_ids: list[int]) -> str:
    runs = arrival.run_debounced(rule_ids, evaluation.evaluate_many)
    return f"{runs} evaluations of {len(rule_ids)} rules"


@shared_task(name="alerts.deliver", ignore_result=True)
def deliver(notification_id: int) -> str:
    """One attempt, and the next one queued for its time (``deliver_due`` also finds it,
    should this worker die before then)."""
    outcome = delivery.deliver(notification_id)
    if outcome.retry_at is not None:
        deliver.apply_async((notification_id,), queue=outcome.queue, eta=outcome.retry_at)
    return outcome.text


@shared_task(name="alerts.deliver_due", ignore_result=True)
def deliver_due() -> str:
    """Retries whose time came, and claims a dead worker left behind."""
    due = delivery.due_ids()
    for notification_id, queue in due:
        deliver.apply_async((notification_id,), queue=queue)
    return f"{len(due)} deliveries sent"


@shared_task(name="alerts.escalate", ignore_result=True)
def escalate() -> str:
    """Escalation steps that waited long enough, acknowledgement timeouts, reminders."""
    now = timezone.now()
    return (
        f"{paging.escalate_due(now)} escalated, {paging.ack_timeouts(now)} acknowledgements timed out, "
        f"{paging.reminders(now)} reminders"
    )
