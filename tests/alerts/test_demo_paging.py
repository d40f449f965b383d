"""The demo's paging: a page reaches Opsboard's own receiver page, signed, without any
mail or Slack set up; setting it up twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from alerts import delivery, paging
from alerts.demo import CHANNEL, SCHEDULE, ensure_demo_paging, last_monday_morning
from alerts.models import EscalationPolicy, Notification, NotificationChannel, ReceivedNotification, Schedule
from opsboard.audit.models import AuditEvent
from tests.alerts.incident_kit import fire, make_rule
from tests.conftest import client_for


@pytest.mark.django_db
def test_the_demo_pages_its_receiver_and_puts_the_first_admin_on_call(admin, editor) -> None:
    line = ensure_demo_paging("http://127.0.0.1:8123")
    assert "ada on call" in line
    channel = NotificationChannel.objects.get(name=CHANNEL)
    assert channel.config["url"] == f"http://127.0.0.1:8123/receiver/{channel.uid}"
    assert len(channel.config["secret"]) >= 24
    policy = EscalationPolicy.objects.get(is_default=True)
    assert [(s.wait_minutes, s.channel_id, s.schedule_id) for s in policy.steps.order_by("position")] == [
        (0, channel.pk, None),
        (5, None, Schedule.objects.get(name=SCHEDULE).pk),
    ]
    assert paging.on_call_user(Schedule.objects.get(name=SCHEDULE), timezone.now()) == admin
    assert AuditEvent.objects.filter(action="notificationchannel.create").exists()
    ensure_demo_paging("http://127.0.0.1:8123")
    assert policy.steps.count() == 2 and NotificationChannel.objects.count() == 1
    ensure_demo_paging("http://127.0.0.1:9000/")
    channel.refresh_from_db()
    assert channel.config["url"] == f"http://127.0.0.1:9000/receiver/{channel.uid}"


@pytest.mark.django_db(transaction=True)
def test_a_page_arrives_on_the_receiver_page(live_server, admin) -> None:
    ensure_demo_paging(live_server.url)
    incident = fire(make_rule())
    for notification in Notification.objects.filter(incident=incident, kind="webhook"):
        assert delivery.deliver(notification.pk).text.startswith("delivered")
    received = ReceivedNotification.objects.get()
    assert received.signature_ok and received.event == "triggered"
    assert received.payload["incident"]["code"] == incident.code
    page = client_for(admin).get("/receiver/").content.decode()
    assert incident.code in page and "verified" in page


@pytest.mark.parametrize(
    ("now", "start"),
    [
        ("2026-11-29T14:00", "2026-11-23T09:00"),  # a Sunday: the Monday before
        ("2026-11-30T08:59", "2026-11-23T09:00"),  # a Monday before the hand-off
        ("2026-11-30T09:00", "2026-11-30T09:00"),
        ("2026-12-02T00:00", "2026-11-30T09:00"),
    ],
)
def test_the_demo_rotation_has_begun_whenever_it_is_set_up(now: str, start: str) -> None:
    at = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert last_monday_morning(at) == datetime.fromisoformat(start).replace(tzinfo=UTC)
