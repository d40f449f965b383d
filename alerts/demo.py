"""The demo's paging: a webhook channel pointing at Opsboard's own receiver page, a
schedule with the first Admin on call, and a default policy that pages both, so a new
installation sees a page arrive without configuring mail or Slack."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.urls import reverse

from alerts import setup
from alerts.models import EscalationStep, NotificationChannel, Schedule, ScheduleLayer
from alerts.policies import ensure_default_policy
from opsboard.accounts import roles
from opsboard.accounts.models import User
from opsboard.audit.services import Actor

ACTOR = Actor.system("demo")
CHANNEL = "Demo receiver"
SCHEDULE = "Primary on-call"


def ensure_demo_paging(base_url: str) -> str:
    """Create what is missing (never changes what a user edited, except the receiver's
    address when Opsboard moved to another port); returns a line for the console."""
    admin = User.objects.filter(role_id=roles.ADMIN, is_active=True).order_by("pk").first()
    with transaction.atomic():
        channel = _channel(base_url)
        schedule = _schedule(admin) if admin else None
        policy = ensure_default_policy(ACTOR)
        if not policy.steps.exists():
            setup.create(
                EscalationStep, {"policy": policy, "position": 0, "wait_minutes": 0, "channel": channel}, by=ACTOR
            )
            if schedule:
                setup.create(
                    EscalationStep, {"policy": policy, "position": 1, "wait_minutes": 5, "schedule": schedule}, by=ACTOR
                )
    on_call = f"{admin.username} on call" if admin else "no Admin to put on call"
    return f"Demo paging: policy {policy.name} pages {CHANNEL} ({channel.config['url']}), {on_call}."


def _channel(base_url: str) -> NotificationChannel:
    channel = NotificationChannel.objects.filter(name=CHANNEL).first()
    if channel is None:
        config = {"url": "", "secret": secrets.token_urlsafe(24)}
        channel = setup.create(NotificationChannel, {"name": CHANNEL, "kind": "webhook", "config": config}, by=ACTOR)
    url = base_url.rstrip("/") + reverse("alerts:receiver_post", args=[channel.uid])
    if channel.kind == "webhook" and channel.config.get("url") != url:
        channel = setup.update(channel, {"config": {**channel.config, "url": url}}, by=ACTOR)
    return channel


def _schedule(admin: User) -> Schedule:
    schedule = Schedule.objects.filter(name=SCHEDULE).first()
    if schedule is None:
        schedule = setup.create(
            Schedule,
            {"name": SCHEDULE, "timezone": "UTC", "description": "Weekly rotation, hand-off Monday 09:00"},
            by=ACTOR,
        )
        start = last_monday_morning(datetime.now(UTC))
        setup.create(
            ScheduleLayer,
            {
                "schedule": schedule,
                "position": 0,
                "participants": [str(admin.uid)],
                "rotation": 7,
                "unit": "days",
                "handoff": "09:00",
                "start": start,
            },
            by=ACTOR,
        )
    return schedule


def last_monday_morning(now: datetime) -> datetime:
    """The latest Monday 09:00 UTC at or before ``now``: the rotation has begun, so someone is on call."""
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), time(9, 0), tzinfo=UTC)
    return monday if monday <= now else monday - timedelta(days=7)
