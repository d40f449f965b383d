"""The outbox delivered against real receivers on loopback: retried with backoff until it
lands, exactly once, never twice by two workers, given up on when too old to matter."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from alerts import delivery, incidents, tasks
from alerts.messages import MAX_PAYLOAD_ALERTS, render_text, webhook_payload
from alerts.models import Incident, Notification
from alerts.transports.webhook import verify_signature
from opsboard.audit.services import Actor
from tests import servers
from tests.alerts.incident_kit import (
    Receiver,
    fire,
    make_policy,
    make_rule,
    receiving,
    receiving_on,
    webhook_channel,
)

pytestmark = pytest.mark.django_db


def drain(clock: time_machine.Coordinates | None = None, rounds: int = 30) -> int:
    """Deliver what is due, moving the clock to each next attempt; returns the rounds used."""
    for used in range(rounds):
        due = delivery.due_ids()
        for notification_id, _queue in due:
            delivery.deliver(notification_id)
        pending = Notification.objects.filter(status=Notification.PENDING).order_by("next_attempt_at").first()
        if pending is None:
            return used + 1
        if clock is not None:
            clock.move_to(pending.next_attempt_at + timedelta(milliseconds=1))
    raise AssertionError("the outbox never emptied")


def page(receiver_url: str, secret: str = "") -> Incident:
    make_policy(webhook_channel("team", receiver_url, secret))
    return fire(make_rule())


def test_a_receiver_failing_the_first_attempts_gets_the_page_exactly_once() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving(fail_first=3) as receiver:
        incident = page(receiver.url, secret="k")
        drain(clock)
    notification = Notification.objects.get(incident=incident)
    assert (notification.status, notification.attempts) == (Notification.DELIVERED, 4)
    assert len(receiver.accepted) == 1
    assert {r["headers"]["X-Opsboard-Delivery"] for r in receiver.requests} == {str(notification.uid)}
    assert [a.ok for a in notification.attempt_log.all()] == [False, False, False, True]
    assert [a.status for a in notification.attempt_log.all()] == [503, 503, 503, 200]
    assert list(incident.events.filter(kind="notified").values_list("text", flat=True)) == [
        "triggered to team by webhook"
    ]
    body = receiver.accepted[0]
    assert (body["event"], body["incident"]["code"]) == ("triggered", incident.code)
    assert body["links"]["acknowledge"] and body["links"]["resolve"]


def test_the_backoff_doubles_from_a_second_up_to_a_minute() -> None:
    waits = [delivery.backoff(n) for n in range(1, 10)]
    assert 0.8 <= waits[0] <= 1.0 and 1.6 <= waits[1] <= 2.0 and 3.2 <= waits[2] <= 4.0
    assert all(48 <= w <= 60 for w in waits[6:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_receiver_down_for_ten_minutes_gets_every_message_once_it_is_back() -> None:
    port = free_port()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        incident = page(f"http://127.0.0.1:{port}/hook")
        while timezone.now() < start + timedelta(minutes=10):
            for notification_id, _ in delivery.due_ids():
                delivery.deliver(notification_id)
            pending = Notification.objects.get(incident=incident)
            assert pending.status == Notification.PENDING, pending.last_error
            clock.move_to(pending.next_attempt_at + timedelta(milliseconds=1))
        failed_attempts = Notification.objects.get(incident=incident).attempts
        with receiving_on(port, Receiver()) as receiver:
            drain(clock)
    assert failed_attempts >= 10
    assert len(receiver.requests) == 1
    assert Notification.objects.get(incident=incident).status == Notification.DELIVERED


def test_a_permanent_refusal_fails_at_once_and_shows_on_the_timeline() -> None:
    with servers.serve(servers.status(404, "no such hook")) as base:
        incident = page(f"{base}/hook")
        drain()
    notification = Notification.objects.get(incident=incident)
    assert (notification.status, notification.attempts) == (Notification.FAILED, 1)
    failed = incident.events.get(kind="notify_failed")
    assert "404" in failed.text


def test_a_retried_task_after_delivery_sends_nothing(settings) -> None:
    with receiving() as receiver:
        incident = page(receiver.url)
        notification = Notification.objects.get(incident=incident)
        assert delivery.deliver(notification.pk).text.startswith("delivered")
        assert delivery.deliver(notification.pk).text.startswith("skipped")
    assert len(receiver.requests) == 1


def test_delivery_gives_up_when_the_message_is_too_old_to_matter(settings) -> None:
    settings.NOTIFY_GIVE_UP_AFTER_S = 120
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving(fail_first=1000) as receiver:
        incident = page(receiver.url)
        drain(clock)
    notification = Notification.objects.get(incident=incident)
    assert notification.status == Notification.FAILED
    assert 3 <= notification.attempts < 20
    assert incident.events.filter(kind="notify_failed").count() == 1


def test_a_claim_left_by_a_dead_worker_expires_and_the_message_is_sent() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving() as receiver:
        incident = page(receiver.url)
        notification = Notification.objects.get(incident=incident)
        assert delivery.claim(notification.pk, timezone.now()) is not None  # the worker dies here
        assert delivery.due_ids() == []
        clock.move_to(timezone.now() + delivery.LEASE + timedelta(seconds=1))
        assert [pk for pk, _ in delivery.due_ids()] == [notification.pk]
        drain(clock)
    assert len(receiver.requests) == 1


def test_the_signature_verifies_with_the_channel_secret() -> None:
    with receiving() as receiver:
        page(receiver.url, secret="team-secret")
        drain()
    raw, headers = receiver.requests[0]["raw"], receiver.requests[0]["headers"]
    assert verify_signature("team-secret", headers["X-Opsboard-Timestamp"], raw, headers["X-Opsboard-Signature"])
    assert not verify_signature("other-secret", headers["X-Opsboard-Timestamp"], raw, headers["X-Opsboard-Signature"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two workers at once need PostgreSQL")
def test_two_workers_delivering_the_same_outbox_send_once() -> None:
    with receiving(delay_s=0.3) as receiver:
        incident = page(receiver.url)
        notification = Notification.objects.get(incident=incident)
        barrier = threading.Barrier(4)
        results: list[str] = []

        def worker() -> None:
            barrier.wait()
            try:
                results.append(delivery.deliver(notification.pk).text)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(receiver.requests) == 1
    assert sorted(r.split(" ")[0] for r in results) == ["delivered", "skipped:", "skipped:", "skipped:"]


def test_a_failed_attempt_says_when_to_try_again() -> None:
    with receiving(fail_first=1) as receiver:
        incident = page(receiver.url)
        notification = Notification.objects.get(incident=incident)
        outcome = delivery.deliver(notification.pk)
        notification.refresh_from_db()
        assert outcome.retry_at == notification.next_attempt_at and outcome.queue == "pages"
        assert timezone.now() < outcome.retry_at < timezone.now() + timedelta(seconds=2)
        sent: list[tuple] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(tasks.deliver, "apply_async", lambda args, queue, eta: sent.append((args, queue, eta)))
            patch.setattr(delivery, "deliver", lambda pk: outcome)
            tasks.deliver(notification.pk)
        assert sent == [((notification.pk,), "pages", outcome.retry_at)]


def test_a_page_still_retrying_when_the_incident_resolves_is_dropped_with_its_update() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving(fail_first=2) as receiver:
        incident = page(receiver.url)
        for notification_id, _ in delivery.due_ids():
            delivery.deliver(notification_id)  # refused: the page waits for its retry
        incidents.resolve(incident, by=Actor.system("test"))
        drain(clock)
    assert [r["body"]["event"] for r in receiver.requests] == ["triggered"]  # the refused attempt only
    statuses = dict(Notification.objects.filter(incident=incident).values_list("event", "status"))
    assert statuses == {"triggered": Notification.CANCELLED, "resolved": Notification.CANCELLED}
    reasons = list(incident.events.filter(kind="notify_cancelled").values_list("text", flat=True))
    assert reasons == [
        "triggered to team by webhook not sent: the incident was resolved before the page could be delivered",
        "resolved to team by webhook not sent: no page about this incident reached this recipient",
    ]


def test_an_update_waits_for_the_page_in_flight_to_the_same_recipient() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving() as receiver:
        incident = page(receiver.url)
        triggered = Notification.objects.get(incident=incident)
        assert delivery.claim(triggered.pk, timezone.now()) is not None  # a worker is sending it now
        incidents.resolve(incident, by=Actor.system("test"))
        resolved = Notification.objects.get(incident=incident, event="resolved")
        outcome = delivery.deliver(resolved.pk)
        assert outcome.text.startswith("waiting") and outcome.retry_at is not None
        Notification.objects.filter(pk=triggered.pk).update(status=Notification.DELIVERED)  # that worker finished
        drain(clock)
    assert [r["body"]["event"] for r in receiver.requests] == ["resolved"]
    assert Notification.objects.get(pk=resolved.pk).status == Notification.DELIVERED


def test_a_page_acknowledged_before_it_is_delivered_is_not_sent() -> None:
    with receiving(fail_first=1) as receiver:
        incident = page(receiver.url)
        notification = Notification.objects.get(incident=incident)
        delivery.deliver(notification.pk)
        incidents.acknowledge(incident, by=Actor.system("test"))
        Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
        assert delivery.deliver(notification.pk).text.startswith("cancelled: the incident was acknowledged")
    assert len(receiver.requests) == 1


def test_a_message_counts_every_alert_of_the_incident_and_carries_up_to_the_payload_limit() -> None:
    """One node with 120 GPUs over the line: one incident, one page saying 120 alerts."""
    make_policy(webhook_channel("team", "http://127.0.0.1:9/hook"))
    incident = fire(make_rule(), gpus=120)
    message = delivery.message_for(Notification.objects.get(incident=incident, event="triggered"))
    payload = webhook_payload(message)
    assert payload["alerts_total"] == 120
    assert len(payload["alerts"]) == MAX_PAYLOAD_ALERTS
    _, text, _ = render_text(message)
    assert "120" in text
