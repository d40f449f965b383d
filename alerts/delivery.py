"""Delivering the outbox: claim one notification, send it by its transport, record the
attempt, and retry with exponential backoff until it lands or is too old to matter.

Claiming is an UPDATE that must change one row, so two workers never send one
notification at once. A worker killed after sending and before recording leaves the
claim to expire and the message to be sent again: delivery is at least once, and every
message carries its delivery id (``X-Opsboard-Delivery``) for receivers to drop repeats.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from alerts.links import make_link
from alerts.messages import MAX_PAYLOAD_ALERTS, Message
from alerts.models import AlertState, ExternalAlert, Incident, Notification, NotificationAttempt
from alerts.timeline import timeline
from alerts.transports import TRANSPORTS
from alerts.transports.base import Delivery
from opsboard import crypto, metrics

logger = logging.getLogger(__name__)

# A claim's lifetime: a worker that dies while sending leaves its claim to expire after this, and
# the message is sent again (NOTIFY_LEASE_S; longer than any transport takes to answer).
LEASE = timedelta(seconds=settings.NOTIFY_LEASE_S)
MAX_BACKOFF_S = settings.NOTIFY_MAX_BACKOFF_S  # the longest wait between two attempts
WITH_LINKS = {"triggered", "escalated", "reopened", "reminder"}


def claim(notification_id: int, now: datetime) -> Notification | None:
    """Take the notification for sending, if it is due and nobody holds it."""
    due = Q(status=Notification.PENDING, next_attempt_at__lte=now) | Q(status=Notification.SENDING, lease_until__lt=now)
    taken = Notification.objects.filter(due, pk=notification_id).update(
        status=Notification.SENDING, lease_until=now + LEASE
    )
    return Notification.objects.select_related("incident", "recipient_user").get(pk=notification_id) if taken else None


@dataclass(frozen=True)
class Outcome:
    text: str
    retry_at: datetime | None = None
    queue: str = ""


def deliver(notification_id: int) -> Outcome:
    """One attempt; the outcome says when to try again, if it is to be retried."""
    now = timezone.now()
    notification = claim(notification_id, now)
    if notification is None:
        return Outcome("skipped: delivered, not due, or being sent by another worker")
    held = _hold_or_cancel(notification, now)
    if held is not None:
        return held
    started = time.monotonic()
    result = _send(notification)
    _record(notification, result, time.monotonic() - started)
    text = f"{notification.status} after {notification.attempts} attempts" + (
        f": {result.error}" if result.error else ""
    )
    retry_at = notification.next_attempt_at if notification.status == Notification.PENDING else None
    return Outcome(text, retry_at, notification.queue)


PAGES = {"triggered", "escalated", "reopened"}  # messages that ask someone to act
UPDATES = {"acknowledged", "resolved"}  # messages about a page sent before
ORDER_WAIT = timedelta(seconds=1)


def _hold_or_cancel(notification: Notification, now: datetime) -> Outcome | None:
    """Keep each recipient's messages about an incident in order, and drop the moot ones: a
    page for an incident acknowledged or resolved meanwhile, an update to someone whom no
    page about it reached. None: send it now."""
    reason = _moot(notification)
    if reason:
        return _cancel(notification, reason)
    earlier = _earlier_to_same_recipient(notification)
    for page in earlier.filter(status=Notification.PENDING, event__in=PAGES | {"reminder"}):
        if moot := _moot(page):
            _cancel(page, moot, only_if_pending=True)
    if earlier.filter(status__in=[Notification.PENDING, Notification.SENDING]).exists():
        retry_at = now + ORDER_WAIT
        Notification.objects.filter(pk=notification.pk).update(
            status=Notification.PENDING, next_attempt_at=retry_at, lease_until=None
        )
        return Outcome(
            "waiting: an earlier message to the same recipient is not delivered yet", retry_at, notification.queue
        )
    if notification.event in UPDATES and not earlier.filter(status=Notification.DELIVERED, event__in=PAGES).exists():
        return _cancel(notification, "no page about this incident reached this recipient")
    return None


def _moot(notification: Notification) -> str:
    status = notification.incident.status
    if notification.event in PAGES and status != Incident.TRIGGERED:
        return f"the incident was {status} before the page could be delivered"
    if notification.event == "reminder" and status != Incident.ACKNOWLEDGED:
        return f"the incident was {status} before the reminder could be delivered"
    return ""


def _earlier_to_same_recipient(notification: Notification) -> QuerySet[Notification]:
    same = Notification.objects.filter(
        incident_id=notification.incident_id,
        kind=notification.kind,
        recipient_user_id=notification.recipient_user_id,
        channel_id=notification.channel_id,
    ).exclude(pk=notification.pk)
    before = Q(created_at__lt=notification.created_at) | Q(created_at=notification.created_at, pk__lt=notification.pk)
    return same.filter(before)


def _cancel(notification: Notification, reason: str, *, only_if_pending: bool = False) -> Outcome:
    rows = Notification.objects.filter(pk=notification.pk)
    if only_if_pending:
        rows = rows.filter(status=Notification.PENDING)
    if rows.update(status=Notification.CANCELLED, lease_until=None, last_error=reason):
        timeline(notification.incident, "notify_cancelled", text=f"{_describe(notification)} not sent: {reason}")
    return Outcome(f"cancelled: {reason}")


def _send(notification: Notification) -> Delivery:
    transport = TRANSPORTS.get(notification.kind)
    if transport is None:
        return Delivery(ok=False, status=None, error=f"no transport {notification.kind!r}", retry=False)
    unreadable = crypto.unreadable_keys(notification.config)
    if unreadable:  # a token no key opened: sending it as a URL or secret could only go wrong
        error = f"{', '.join(unreadable)} {crypto.UNREADABLE} (OPSBOARD_ENCRYPTION_KEYS)"
        return Delivery(ok=False, status=None, error=error, retry=False)
    try:
        config = transport.Config.from_dict(notification.config)
        return transport().notify(message_for(notification), config)
    except Exception as exc:  # a broken channel shows on the incident; the worker goes on
        logger.exception("delivery %s failed", notification.uid)
        return Delivery(ok=False, status=None, error=f"{type(exc).__name__}: {exc}", retry=False)


def _record(notification: Notification, result: Delivery, duration: float) -> None:
    now = timezone.now()
    NotificationAttempt.objects.create(
        notification=notification,
        at=now,
        ok=result.ok,
        status=result.status,
        error=result.error[:2000],
        duration_s=duration,
    )
    notification.attempts += 1
    notification.last_error = result.error[:2000]
    if result.ok:
        notification.status, notification.delivered_at = Notification.DELIVERED, now
        timeline(notification.incident, "notified", text=_describe(notification), delivery=str(notification.uid))
    elif result.retry and now - notification.created_at < timedelta(seconds=settings.NOTIFY_GIVE_UP_AFTER_S):
        notification.status = Notification.PENDING
        notification.next_attempt_at = now + timedelta(seconds=backoff(notification.attempts))
    else:
        notification.status = Notification.FAILED
        timeline(notification.incident, "notify_failed", text=f"{_describe(notification)}: {result.error}")
    notification.lease_until = None
    notification.save(
        update_fields=["status", "attempts", "last_error", "next_attempt_at", "delivered_at", "lease_until"]
    )
    metrics.count_notification(notification.kind, notification.status)


def backoff(attempts: int) -> float:
    """Seconds before the next try: doubling from 1 s, capped at a minute, with jitter, so a
    receiver that comes back after a long outage gets its messages within a minute."""
    return min(MAX_BACKOFF_S, 2.0 ** (attempts - 1)) * random.uniform(0.8, 1.0)


def _describe(notification: Notification) -> str:
    return f"{notification.event} to {notification.recipient_name} by {notification.kind}"


def due_ids(now: datetime | None = None, limit: int = 500) -> list[tuple[int, str]]:
    """(id, queue) of notifications whose next attempt is due or whose claim expired."""
    now = now or timezone.now()
    due = Q(status=Notification.PENDING, next_attempt_at__lte=now) | Q(status=Notification.SENDING, lease_until__lt=now)
    return list(Notification.objects.filter(due).order_by("next_attempt_at").values_list("pk", "queue")[:limit])


def message_for(notification: Notification) -> Message:
    incident = notification.incident
    links = notification.event in WITH_LINKS and incident.is_open
    user, via = notification.recipient_user, notification.kind
    return Message(
        event=notification.event,
        incident_id=str(incident.uid),
        incident_code=incident.code,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        opened_at=incident.opened_at,
        url=settings.OPSBOARD_BASE_URL.rstrip("/") + reverse("alerts:incident", args=[incident.uid]),
        ack_url=make_link(incident, "ack", user, via) if links and incident.status == Incident.TRIGGERED else None,
        resolve_url=make_link(incident, "resolve", user, via) if links else None,
        labels=incident.group_labels,
        alerts=_alerts(incident),
        alerts_total=incident.alerts.count() + incident.external_alerts.count(),
        summary=incident.summary,
        delivery_id=str(notification.uid),
        recipient=notification.recipient_name,
    )


def _alerts(incident: Incident) -> list[dict]:
    """The newest MAX_PAYLOAD_ALERTS of each kind: what a webhook carries, and more than mail
    and Slack show (the message's ``alerts_total`` counts them all)."""
    own = [
        {
            "labels": a.labels,
            "annotations": {},
            "value": a.last_value,
            "started_at": (a.fired_at or a.changed_at).isoformat(),
        }
        for a in AlertState.objects.filter(incident=incident).order_by("-changed_at")[:MAX_PAYLOAD_ALERTS]
    ]
    external = [
        {"labels": a.labels, "annotations": a.annotations, "value": None, "started_at": a.starts_at.isoformat()}
        for a in ExternalAlert.objects.filter(incident=incident).order_by("-starts_at")[:MAX_PAYLOAD_ALERTS]
    ]
    return own + external
