"""Who is paged, and when: escalation steps, acknowledgement timeouts, reminders, and the
messages that tell those already paged that an incident was acknowledged or resolved.

Pages are written to the outbox (``Notification``) in the caller's transaction and
handed to the delivery task once it commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from alerts import live, oncall
from alerts.models import (
    AlertState,
    ContactMethod,
    ExternalAlert,
    Incident,
    IncidentEvent,
    Notification,
    NotificationChannel,
    Schedule,
)
from alerts.timeline import timeline
from opsboard.accounts.models import User
from opsboard.audit.services import Actor, record

HOLD_WHILE_SILENCED = timedelta(seconds=60)


@dataclass(frozen=True)
class Recipient:
    name: str
    kind: str
    config: dict[str, Any]
    user: User | None = None
    channel: NotificationChannel | None = None

    @property
    def key(self) -> str:
        """Who and where, for the outbox's idempotency key: the address by its digest, so that
        no secret of it (a webhook URL, a token) is kept in the clear."""
        owner = f"user:{self.user.pk}" if self.user else f"channel:{self.channel.pk}" if self.channel else self.name
        address = hashlib.sha256(json.dumps(self.config, sort_keys=True, default=str).encode()).hexdigest()
        return f"{owner[:80]}:{self.kind}:{address}"


def queue_for(incident: Incident) -> str:
    """Critical pages have their own queue and worker, so no backlog of warnings delays them."""
    return "pages-critical" if incident.severity == "critical" else "pages"


def start_escalation(incident: Incident, now: datetime, *, event: str) -> None:
    """Page step 0 now and schedule step 1 (within the caller's transaction)."""
    incident.escalation_step, incident.escalation_round = 0, 0
    incident.next_escalation_at = now
    incident.save(update_fields=["escalation_step", "escalation_round", "next_escalation_at", "updated_at"])
    _run_step(incident, now, event)


def _run_step(incident: Incident, now: datetime, event: str) -> None:
    steps = incident.policy.get("steps") or []
    if not steps:
        incident.next_escalation_at = None
        incident.save(update_fields=["next_escalation_at", "updated_at"])
        return
    if _suppressed(incident):
        _hold(incident, now)
        return
    step = _notify_step(incident, steps, now, event)
    while step["wait_minutes"] == 0 and incident.escalation_step + 1 < len(steps):
        incident.escalation_step += 1  # a step that waits 0 minutes pages the next one with it
        step = _notify_step(incident, steps, now, event)
    incident.next_escalation_at = now + timedelta(minutes=step["wait_minutes"])
    incident.save(update_fields=["escalation_step", "next_escalation_at", "updated_at"])


def _notify_step(incident: Incident, steps: list[dict[str, Any]], now: datetime, event: str) -> dict[str, Any]:
    step = steps[incident.escalation_step]
    target = step["target"]
    recipients = recipients_of(target, now)
    _write(incident, recipients, event, now, f"{incident.escalation_round}:{incident.escalation_step}")
    if event == "escalated":
        timeline(incident, "escalated", text=f"step {incident.escalation_step + 1}: {target['name']}")
    if not recipients:
        timeline(
            incident,
            "nobody_paged",
            text=f"step {incident.escalation_step + 1}: {target['type']} {target['name']} has nobody to notify "
            "(nobody on call, no contact method, or disabled)",
        )
    return step


def _suppressed(incident: Incident) -> bool:
    """All its alerts are silenced or inhibited: the incident shows, nobody is paged yet."""
    own = AlertState.objects.filter(incident=incident, state=AlertState.FIRING)
    if ExternalAlert.objects.filter(incident=incident, status=ExternalAlert.FIRING).exists():
        return False
    return own.exists() and not own.filter(silenced=False, inhibited=False).exists()


def _hold(incident: Incident, now: datetime) -> None:
    if not IncidentEvent.objects.filter(incident=incident, kind="held").exists():
        timeline(incident, "held", text="all its alerts are silenced or inhibited: paging waits")
    incident.next_escalation_at = now + HOLD_WHILE_SILENCED
    incident.save(update_fields=["next_escalation_at", "updated_at"])


def escalate_due(now: datetime | None = None) -> int:
    """Advance every triggered incident whose step has waited long enough; returns how many."""
    now = now or timezone.now()
    due = Incident.objects.filter(status=Incident.TRIGGERED, next_escalation_at__lte=now)
    return _each_locked(due, lambda incident: _still_due(incident, now) and _advance(incident, now))


def _still_due(incident: Incident, now: datetime) -> bool:
    """Not acknowledged, resolved or advanced past ``now`` meanwhile."""
    due_at = incident.next_escalation_at
    return incident.status == Incident.TRIGGERED and due_at is not None and due_at <= now


def _advance(incident: Incident, now: datetime) -> int:
    steps = incident.policy.get("steps") or []
    if _suppressed(incident):
        _hold(incident, now)
        return 0
    if incident.escalation_step + 1 < len(steps):
        incident.escalation_step += 1
    elif incident.escalation_round < (incident.policy.get("repeat") or 0):
        incident.escalation_round += 1
        incident.escalation_step = 0
    else:
        incident.next_escalation_at = None
        incident.save(update_fields=["next_escalation_at", "updated_at"])
        timeline(incident, "escalation_done", text="every step of the policy was tried; nobody acknowledged")
        return 0
    incident.save(update_fields=["escalation_step", "escalation_round", "updated_at"])
    _run_step(incident, now, "escalated")
    return 1


def ack_timeouts(now: datetime | None = None) -> int:
    """Acknowledged incidents past their deadline return to triggered and escalate again."""
    now = now or timezone.now()
    due = Incident.objects.filter(status=Incident.ACKNOWLEDGED, ack_deadline__lte=now)
    return _each_locked(due, lambda incident: _ack_timed_out(incident, now))


def _ack_timed_out(incident: Incident, now: datetime) -> bool:
    if incident.status != Incident.ACKNOWLEDGED or not incident.ack_deadline or incident.ack_deadline > now:
        return False
    incident.status = Incident.TRIGGERED
    incident.acknowledged_at = incident.acknowledged_by = incident.ack_deadline = incident.next_reminder_at = None
    fields = ["status", "acknowledged_at", "acknowledged_by", "ack_deadline", "next_reminder_at", "updated_at"]
    incident.save(update_fields=fields)
    timeline(incident, "ack_timeout", text="acknowledged but not resolved in time: escalating again")
    record("incident.ack_timeout", by=Actor.system("alerts"), obj=incident)
    live.announce()
    start_escalation(incident, now, event="escalated")
    return True


def reminders(now: datetime | None = None) -> int:
    """Remind whoever acknowledged an incident that is still open."""
    now = now or timezone.now()
    due = Incident.objects.filter(status=Incident.ACKNOWLEDGED, next_reminder_at__lte=now)
    return _each_locked(due, lambda incident: _remind(incident, now))


def _remind(incident: Incident, now: datetime) -> bool:
    every = incident.policy.get("reminder_every_s")
    reminder_at = incident.next_reminder_at
    if incident.status != Incident.ACKNOWLEDGED or not every or not incident.acknowledged_by_id:
        return False
    if reminder_at is None or reminder_at > now:
        return False  # reminded meanwhile
    slot = f"reminder:{int(reminder_at.timestamp())}"
    _write(incident, user_recipients(incident.acknowledged_by), "reminder", now, slot)
    incident.next_reminder_at = now + timedelta(seconds=every)
    incident.save(update_fields=["next_reminder_at", "updated_at"])
    return True


def _each_locked(due: QuerySet[Incident], act: Callable[[Incident], bool]) -> int:
    """``act`` on each incident of ``due`` under its row lock, one transaction each (so one
    failure keeps the others); ``act`` re-checks, as the row may have changed. Returns how
    many it acted on."""
    count = 0
    for incident_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            count += act(Incident.objects.select_for_update().get(pk=incident_id))
    return count


def tell_paged(incident: Incident, event: str, now: datetime, *, channels_only: bool = False) -> None:
    """Tell everyone who was paged for the incident (or only the channels) about ``event``."""
    paged = Notification.objects.filter(incident=incident, event__in=["triggered", "escalated", "reopened"])
    if channels_only:
        paged = paged.filter(channel__isnull=False)
    paged = paged.select_related("recipient_user", "channel").order_by("pk")
    every = (Recipient(n.recipient_name, n.kind, n.config, n.recipient_user, n.channel) for n in paged)
    recipients = list({recipient.key: recipient for recipient in every}.values())
    _write(incident, recipients, event, now, f"{event}:{incident.reopened}")


def recipients_of(target: dict[str, Any], now: datetime) -> list[Recipient]:
    """The contact points of one escalation target at ``now``."""
    if target["type"] == "channel":
        channel = NotificationChannel.objects.filter(uid=target["id"], enabled=True).first()
        return [Recipient(channel.name, channel.kind, channel.config, channel=channel)] if channel else []
    if target["type"] == "schedule":
        schedule = Schedule.objects.filter(uid=target["id"]).first()
        user = on_call_user(schedule, now) if schedule else None
        return user_recipients(user) if user else []
    user = User.objects.filter(uid=target["id"], is_active=True).first()
    return user_recipients(user) if user else []


def user_recipients(user: User) -> list[Recipient]:
    """A person's contact methods; their account's email when they set none."""
    methods = [Recipient(user.username, m.kind, m.config, user=user) for m in ContactMethod.objects.filter(user=user)]
    if not methods and user.email:
        methods = [Recipient(user.username, "email", {"addresses": [user.email]}, user=user)]
    return methods


def on_call_user(schedule: Schedule, now: datetime) -> User | None:
    layers, overrides = oncall_inputs(schedule)
    uid = oncall.on_call(layers, overrides, now)
    return User.objects.filter(uid=uid, is_active=True).first() if uid else None


def oncall_inputs(schedule: Schedule) -> tuple[list[oncall.Layer], list[oncall.Override]]:
    layers = [
        oncall.Layer.from_dict(
            {
                "participants": layer.participants,
                "rotation": layer.rotation,
                "unit": layer.unit,
                "handoff": layer.handoff,
                "start": layer.start,
                "timezone": schedule.timezone,
                "restrictions": layer.restrictions,
            }
        )
        for layer in schedule.layers.order_by("position")
    ]
    overrides = [
        oncall.Override(str(o.user.uid), o.starts_at, o.ends_at)
        for o in schedule.overrides.select_related("user").order_by("starts_at", "pk")  # the newest wins a tie
    ]
    return layers, overrides


def _write(incident: Incident, recipients: list[Recipient], event: str, now: datetime, slot: str) -> list[Notification]:
    """Outbox rows, one per recipient, each unique by (incident, event slot, recipient);
    the delivery tasks are sent once the transaction commits."""
    written = []
    for recipient in recipients:
        key = f"{incident.uid}:{event}:{slot}:{recipient.key}"
        notification, created = Notification.objects.get_or_create(
            key=key,
            defaults={
                "incident": incident,
                "event": event,
                "kind": recipient.kind,
                "recipient_name": recipient.name,
                "recipient_user": recipient.user,
                "channel": recipient.channel,
                "config": recipient.config,
                "queue": queue_for(incident),
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        if created:
            written.append(notification)
    for notification in written:
        transaction.on_commit(lambda n=notification: send_delivery(n.pk, n.queue))
    return written


def send_delivery(notification_id: int, queue: str) -> None:
    current_app.send_task("alerts.deliver", (notification_id,), queue=queue)
