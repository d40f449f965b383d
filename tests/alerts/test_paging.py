"""Escalation walked with a controlled clock: steps after their waits, acknowledgement
stopping them, repeats, acknowledgement timeouts, reminders, schedules, queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from alerts import incidents, paging
from alerts.models import Incident, Notification, Schedule, ScheduleLayer, ScheduleOverride
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import fire, make_policy, make_rule, outbox, timeline_kinds, webhook_contact
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(db):
    first, second = make_user("first", "responder"), make_user("second", "responder")
    webhook_contact(first, "http://127.0.0.1:9/first")
    webhook_contact(second, "http://127.0.0.1:9/second")
    return first, second


def at(clock, minutes: float) -> datetime:
    clock.move_to(T0 + timedelta(minutes=minutes))
    return T0 + timedelta(minutes=minutes)


def pages(incident: Incident) -> list[tuple[str, str]]:
    return [page for page in outbox(incident) if page[0] in ("triggered", "escalated", "reopened", "reminder")]


def test_unacknowledged_goes_to_step_two_after_the_wait(clock, people) -> None:
    make_policy(*people, wait_minutes=5)
    incident = fire(make_rule())
    assert pages(incident) == [("triggered", "first")]
    assert paging.escalate_due(at(clock, 4.9)) == 0
    assert paging.escalate_due(at(clock, 5)) == 1
    assert pages(incident) == [("triggered", "first"), ("escalated", "second")]
    assert timeline_kinds(incident) == ["fired", "escalated"]
    # the last step waited and nobody acknowledged: the policy is done, nobody is paged twice
    assert paging.escalate_due(at(clock, 10)) == 0
    assert paging.escalate_due(at(clock, 60)) == 0
    assert pages(incident) == [("triggered", "first"), ("escalated", "second")]
    assert timeline_kinds(incident)[-1] == "escalation_done"


def test_acknowledged_means_no_more_pages(clock, people) -> None:
    make_policy(*people, wait_minutes=5)
    incident = fire(make_rule())
    at(clock, 2)
    incidents.acknowledge(incident, by=Actor(people[0], None, "first"))
    for minute in (5, 10, 60):
        assert paging.escalate_due(at(clock, minute)) == 0
    assert pages(incident) == [("triggered", "first")]


def test_the_policy_repeats_up_to_k_times(clock, people) -> None:
    make_policy(*people, wait_minutes=5, repeat=1)
    incident = fire(make_rule())
    for minute in (5, 10, 15, 20, 25):
        paging.escalate_due(at(clock, minute))
    assert pages(incident) == [
        ("triggered", "first"),
        ("escalated", "second"),
        ("escalated", "first"),
        ("escalated", "second"),
    ]


def test_an_acknowledgement_times_out_and_escalation_starts_again(clock, people) -> None:
    make_policy(*people, wait_minutes=5, ack_timeout_s=1800)
    incident = fire(make_rule())
    incidents.acknowledge(incident, by=Actor(people[0], None, "first"))
    assert paging.ack_timeouts(at(clock, 29)) == 0
    assert paging.ack_timeouts(at(clock, 30)) == 1
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED and incident.acknowledged_by is None
    assert pages(incident) == [("triggered", "first"), ("escalated", "first")]
    assert paging.escalate_due(at(clock, 35)) == 1
    assert pages(incident)[-1] == ("escalated", "second")
    assert "ack_timeout" in timeline_kinds(incident)
    assert AuditEvent.objects.filter(action="incident.ack_timeout", object_id=str(incident.uid)).exists()


def test_without_a_timeout_an_acknowledgement_holds(clock, people) -> None:
    make_policy(*people, wait_minutes=5)
    incident = fire(make_rule())
    incidents.acknowledge(incident, by=Actor(people[0], None, "first"))
    assert paging.ack_timeouts(at(clock, 60 * 24)) == 0


def test_the_acknowledger_is_reminded_until_it_is_resolved(clock, people) -> None:
    make_policy(*people, wait_minutes=5, reminder_every_s=600)
    incident = fire(make_rule())
    incidents.acknowledge(incident, by=Actor(people[1], None, "second"))
    assert paging.reminders(at(clock, 9)) == 0
    assert paging.reminders(at(clock, 10)) == 1
    assert paging.reminders(at(clock, 10.5)) == 0
    assert paging.reminders(at(clock, 20)) == 1
    incidents.resolve(incident, by=Actor(people[1], None, "second"))
    assert paging.reminders(at(clock, 30)) == 0
    assert outbox(incident, "reminder") == [("reminder", "second"), ("reminder", "second")]


def test_resolving_tells_everyone_who_was_paged(clock, people) -> None:
    make_policy(*people, wait_minutes=5)
    incident = fire(make_rule())
    paging.escalate_due(at(clock, 5))
    incidents.resolve(incident, by=Actor(people[1], None, "second"))
    assert sorted(outbox(incident, "resolved")) == [("resolved", "first"), ("resolved", "second")]


def test_a_schedule_step_pages_whoever_is_on_call_then(clock, people) -> None:
    first, second = people
    schedule = Schedule.objects.create(name="primary", timezone="Europe/Berlin")
    ScheduleLayer.objects.create(
        schedule=schedule,
        participants=[str(first.uid), str(second.uid)],
        rotation=1,
        unit="days",
        handoff="09:00",
        start=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    )
    make_policy(schedule)
    # 2 March, 11:00 Berlin: day 2 of the rotation, the second participant
    assert pages(fire(make_rule())) == [("triggered", "second")]
    ScheduleOverride.objects.create(schedule=schedule, user=first, starts_at=T0, ends_at=T0 + timedelta(hours=2))
    assert pages(fire(make_rule("Other"))) == [("triggered", "first")]


def test_nobody_on_call_pages_nobody_and_moves_on(clock, people) -> None:
    schedule = Schedule.objects.create(name="empty")
    make_policy(schedule, people[0], wait_minutes=5)
    incident = fire(make_rule())
    assert pages(incident) == []
    paging.escalate_due(at(clock, 5))
    assert pages(incident) == [("escalated", "first")]


def test_critical_pages_have_their_own_queue(clock, people) -> None:
    make_policy(people[0])
    critical = fire(make_rule("Down", severity="critical"))
    warning = fire(make_rule("Slow", severity="warning"))
    assert set(Notification.objects.filter(incident=critical).values_list("queue", flat=True)) == {"pages-critical"}
    assert set(Notification.objects.filter(incident=warning).values_list("queue", flat=True)) == {"pages"}


def test_a_person_without_contact_methods_is_mailed_at_their_address(clock) -> None:
    person = make_user("mailonly", "responder")
    make_policy(person)
    incident = fire(make_rule())
    notification = Notification.objects.get(incident=incident)
    assert (notification.kind, notification.config) == ("email", {"addresses": ["mailonly@example.test"]})


def test_escalating_twice_at_once_pages_once(clock, people) -> None:
    make_policy(*people, wait_minutes=5)
    incident = fire(make_rule())
    now = at(clock, 5)
    assert paging.escalate_due(now) + paging.escalate_due(now) == 1
    assert pages(incident) == [("triggered", "first"), ("escalated", "second")]


def test_a_step_that_waits_zero_minutes_pages_the_next_with_it(clock, people) -> None:
    first, second = people
    policy = make_policy(first, second, wait_minutes=5)
    policy.steps.filter(position=0).update(wait_minutes=0)
    incident = fire(make_rule())
    assert pages(incident) == [("triggered", "first"), ("triggered", "second")]
    assert paging.escalate_due(at(clock, 5)) == 0  # both were paged; the policy is done


def test_a_step_with_nobody_to_page_says_so_on_the_timeline(clock, people) -> None:
    make_policy(Schedule.objects.create(name="empty"), people[0])
    incident = fire(make_rule())
    event = incident.events.get(kind="nobody_paged")
    assert "schedule empty has nobody to notify" in event.text
