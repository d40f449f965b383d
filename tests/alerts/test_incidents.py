"""Incidents: grouped by rule and group-by labels, auto-resolved, reopened, acknowledged,
reassigned and annotated, each change on the timeline and in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from alerts import incidents, paging, silences
from alerts.models import AlertState, Incident, Notification, Silence
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import (
    evaluate,
    fire,
    make_policy,
    make_rule,
    outbox,
    temps,
    timeline_kinds,
    webhook_channel,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(responder):
    return webhook_channel("team", "http://127.0.0.1:9/hook")


@pytest.fixture
def policy(team):
    return make_policy(team)


def test_eight_gpus_of_one_node_page_once(policy) -> None:
    rule = make_rule()
    incident = fire(rule, gpus=8)
    assert Incident.objects.count() == 1
    assert AlertState.objects.filter(incident=incident, state=AlertState.FIRING).count() == 8
    assert outbox(incident) == [("triggered", "team")]
    assert incident.title == "GPUHot (node=gpu-1)"
    assert incident.summary.startswith("gpu-1 GPU ")
    assert timeline_kinds(incident) == ["fired"]


def test_two_nodes_make_two_incidents(policy) -> None:
    rule = make_rule()
    evaluate(rule, temps(91, node="gpu-1") and temps(91, node="gpu-2"))
    assert sorted(Incident.objects.values_list("group_labels__node", flat=True)) == ["gpu-1", "gpu-2"]
    assert Notification.objects.filter(event="triggered").count() == 2


def test_an_incident_resolves_when_all_its_alerts_resolve(policy) -> None:
    rule = make_rule()
    incident = fire(rule, gpus=2)
    at = temps(60, node="gpu-1", gpus=1)  # GPU 0 cools, GPU 1 has no new sample yet but is still hot
    evaluate(rule, at)
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED
    evaluate(rule, temps(60, gpus=2, at_ms=at + 1000))
    incident.refresh_from_db()
    assert incident.status == Incident.RESOLVED
    assert timeline_kinds(incident) == ["fired", "resolved"]
    assert "auto-resolved" in incident.events.get(kind="resolved").text
    assert outbox(incident) == [("triggered", "team"), ("resolved", "team")]


def test_auto_resolve_can_be_turned_off_per_rule(policy) -> None:
    rule = make_rule(auto_resolve=False)
    incident = fire(rule)
    evaluate(rule, temps(60))
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED


def test_firing_again_soon_after_reopens_the_same_incident(policy) -> None:
    rule = make_rule(reopen_window_s=600)
    first = fire(rule)
    at = temps(60)
    evaluate(rule, at)
    again = fire(rule, at_ms=at + 1000)
    assert again.pk == first.pk and again.reopened == 1
    assert timeline_kinds(again) == ["fired", "resolved", "reopened"]
    assert outbox(again, "reopened") == [("reopened", "team")]


def test_firing_after_the_reopen_window_opens_a_new_incident(policy) -> None:
    rule = make_rule(reopen_window_s=60)
    first = fire(rule)
    evaluate(rule, temps(60))
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        second = fire(rule)
    assert second.pk != first.pk and second.reopened == 0


def test_acknowledging_records_who_and_the_comment_once(policy, responder) -> None:
    incident = fire(make_rule())
    by = Actor(responder, "10.0.0.5", responder.username)
    incidents.acknowledge(incident, by=by, comment="looking at the fans")
    incidents.acknowledge(incident, by=by, comment="again")
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Incident.ACKNOWLEDGED, responder)
    event = incident.events.get(kind="acknowledged")
    assert (event.actor, event.text) == (responder, "looking at the fans")
    audit = AuditEvent.objects.get(action="incident.acknowledge")
    assert (audit.actor, audit.actor_ip) == (responder, "10.0.0.5")
    # channels hear about the acknowledgement; nobody is paged again
    assert outbox(incident) == [("triggered", "team"), ("acknowledged", "team")]


def test_resolving_by_hand_stops_everything_and_tells_those_paged(policy, responder) -> None:
    incident = fire(make_rule())
    incidents.resolve(incident, by=Actor(responder, None, responder.username), comment="fans replaced")
    incident.refresh_from_db()
    assert incident.status == Incident.RESOLVED and incident.next_escalation_at is None
    assert outbox(incident)[-1] == ("resolved", "team")
    assert paging.escalate_due(timezone.now() + timedelta(hours=1)) == 0
    assert AuditEvent.objects.filter(action="incident.resolve", actor=responder).exists()


def test_reassigning_and_notes_are_on_the_timeline_and_audited(policy, responder, editor) -> None:
    incident = fire(make_rule())
    by = Actor(responder, None, responder.username)
    incidents.reassign(incident, editor, by=by)
    incidents.add_note(incident, "swapped the PSU", by=by)
    incident.refresh_from_db()
    assert incident.assignee == editor
    assert timeline_kinds(incident) == ["fired", "assigned", "note"]
    reassigned = AuditEvent.objects.get(action="incident.reassign")
    assert reassigned.changes == {"before": {"assignee": None}, "after": {"assignee": editor.username}}
    assert AuditEvent.objects.filter(action="incident.note").exists()


def test_a_silence_made_from_an_incident_expires_when_it_resolves(policy, responder) -> None:
    incident = fire(make_rule())
    by = Actor(responder, None, responder.username)
    now = timezone.now()
    silence = silences.create_silence(
        {"matchers": 'node="gpu-1"', "starts_at": now, "ends_at": now + timedelta(days=1), "comment": "fans"},
        by=by,
    )
    Silence.objects.filter(pk=silence.pk).update(incident=incident, expire_with_incident=True)
    incidents.resolve(incident, by=by)
    silence.refresh_from_db()
    assert silence.expired_at is not None
    assert AuditEvent.objects.filter(action="silence.expire", object_id=str(silence.uid)).exists()


def test_silenced_alerts_open_an_incident_that_pages_nobody(policy, responder) -> None:
    now = timezone.now()
    silences.create_silence(
        {"matchers": 'node="gpu-1"', "starts_at": now, "ends_at": now + timedelta(hours=1), "comment": "maintenance"},
        by=Actor(responder, None, responder.username),
    )
    incident = fire(make_rule())
    assert outbox(incident) == []
    assert timeline_kinds(incident) == ["fired", "held"]
    assert incident.next_escalation_at is not None  # it tries again when the silence ends


def test_without_any_policy_the_incident_still_opens(db) -> None:
    incident = fire(make_rule())
    assert incident.status == Incident.TRIGGERED and outbox(incident) == []
    assert incident.policy["steps"] == []


def test_a_rule_names_its_own_policy(policy, editor) -> None:
    other = webhook_channel("db-team", "http://127.0.0.1:9/db")
    own = make_policy(other, name="databases", default=False)
    incident = fire(make_rule(policy_id=own.pk))
    assert outbox(incident) == [("triggered", "db-team")]
    assert incident.policy["name"] == "databases"


def test_editing_the_policy_does_not_change_a_running_escalation(policy, team) -> None:
    incident = fire(make_rule())
    policy.steps.all().delete()
    incident.refresh_from_db()
    assert [s["target"]["name"] for s in incident.policy["steps"]] == ["team"]
