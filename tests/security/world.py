"""One of everything a page can show or a form can change, named with a given text.

The CSRF test posts to every route with these objects' ids; the browser tests visit every
page that shows them, with ordinary names (CSP) or hostile ones (stored XSS). Everything is
made through the services the views use, so it is what a user could have stored. Call it
through ``in_thread`` in browser tests (it uses the ORM).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.urls import reverse

from alerts import incidents, setup, silences
from alerts.matchers import format_matchers
from alerts.models import (
    AlertRule,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Incident,
    NotificationChannel,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    Silence,
)
from monitoring import rollups, targets
from monitoring.models import GpuNode, ModelEndpoint, TrainingRun
from monitoring.promql import Matcher
from opsboard.accounts import roles, services
from opsboard.accounts.models import ApiToken, User
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import fire, make_rule
from tests.e2e import seed

SETUP = Actor.system("test")
# Stored XSS payloads: an attribute handler, a script breaking out of an attribute, a
# javascript: URL and an entity that must stay literal.
HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script><a href=javascript:alert(3)>&amp;'  # 88 chars


@dataclass
class World:
    owner: User
    text: str
    model: ModelEndpoint
    node: GpuNode
    run: TrainingRun
    rule: AlertRule
    incident: Incident
    silence: Silence
    schedule: Schedule
    override: ScheduleOverride
    policy: EscalationPolicy
    channel: NotificationChannel
    contact: ContactMethod
    token: ApiToken
    member: User


def build_world(
    owner: User, *, text: str = "", now_ms: int | None = None, receiver: str | None = None, default_policy: bool = True
) -> World:
    """Every kind of object, each named ``<kind> <text>``. With ``now_ms``, an hour of samples
    behind the model, the node and the run, so their charts draw; with ``receiver`` (a server's
    base URL), the channel pages that server's own webhook receiver."""
    by = Actor(owner, None, owner.username)
    channel = _channel(text, receiver, by)
    schedule, override = _schedule(owner, text, by)
    policy = _policy(text, channel, schedule, by, default_policy)
    rule, incident = _rule_and_incident(text, policy, by)
    model, node, run = _targets(text, by, now_ms)
    return World(
        owner=owner,
        text=text,
        model=model,
        node=node,
        run=run,
        rule=rule,
        incident=incident,
        silence=_silence(incident, text, by),
        schedule=schedule,
        override=override,
        policy=policy,
        channel=channel,
        contact=setup.create(
            ContactMethod, {"user": owner, "kind": "webhook", "config": {"url": "http://127.0.0.1:9/me"}}, by=by
        ),
        token=services.create_token(user=owner, name=f"token {text}", scopes=["read"], by=by)[0],
        member=services.create_user(
            username="member", email="member@example.test", role=roles.VIEWER, password="x" * 16, by=by
        ),
    )


def _channel(text: str, receiver: str | None, by: Actor) -> NotificationChannel:
    config = {"url": "http://127.0.0.1:9/hook", "secret": "receiver-secret"}
    channel = setup.create(NotificationChannel, {"name": f"channel {text}", "kind": "webhook", "config": config}, by=by)
    if receiver:
        url = receiver + reverse("alerts:receiver_post", args=[channel.uid])
        channel = setup.update(channel, {"config": {**config, "url": url}}, by=by)
    return channel


def _schedule(owner: User, text: str, by: Actor) -> tuple[Schedule, ScheduleOverride]:
    schedule = setup.create(Schedule, {"name": f"schedule {text}", "description": f"rota {text}"}, by=by)
    start = datetime.now(UTC) - timedelta(days=3)
    layer = {"schedule": schedule, "participants": [str(owner.uid)], "rotation": 7, "unit": "days", "start": start}
    setup.create(ScheduleLayer, layer, by=by)
    window = {"starts_at": start + timedelta(days=4), "ends_at": start + timedelta(days=5)}
    override = setup.create(
        ScheduleOverride,
        {"schedule": schedule, "user": owner, "comment": f"cover {text}", "created_by": owner, **window},
        by=by,
    )
    return schedule, override


def _policy(text: str, channel: NotificationChannel, schedule: Schedule, by: Actor, default: bool) -> EscalationPolicy:
    policy = setup.create(EscalationPolicy, {"name": f"policy {text}", "is_default": default}, by=by)
    setup.create(EscalationStep, {"policy": policy, "position": 0, "wait_minutes": 0, "channel": channel}, by=by)
    setup.create(EscalationStep, {"policy": policy, "position": 1, "wait_minutes": 5, "schedule": schedule}, by=by)
    return policy


def _rule_and_incident(text: str, policy: EscalationPolicy, by: Actor) -> tuple[AlertRule, Incident]:
    rule = make_rule(
        f"rule {text}",
        description=f"description {text}",
        labels={"team": f"team {text}"},
        annotations={"summary": f"summary {text} on {{{{ labels.node }}}}"},
        policy=policy,
    )
    incident = fire(rule, node=f"node {text}")
    incidents.add_note(incident, f"note {text}", by=by)
    return rule, incident


def _silence(incident: Incident, text: str, by: Actor) -> Silence:
    now = datetime.now(UTC)
    matchers = format_matchers([Matcher("node", "=", f"node {text}")])
    values = {"matchers": matchers, "starts_at": now, "ends_at": now + timedelta(hours=1), "comment": f"quiet {text}"}
    return silences.create_silence({**values, "incident": incident}, by=by)


def _targets(text: str, by: Actor, now_ms: int | None) -> tuple[ModelEndpoint, GpuNode, TrainingRun]:
    never = {"url": "http://127.0.0.1:9/metrics", "enabled": False}
    model = targets.create_target(ModelEndpoint, {"name": f"model {text}", "kind": "prometheus", **never}, by=by)
    node = targets.create_target(GpuNode, {"name": f"node {text}", "kind": "node-exporter", **never}, by=by)
    run = TrainingRun.objects.create(name=f"run {text}", project=f"project {text}", config={"note": text})
    if now_ms is not None:
        seed.write_all(seed._serving_samples({"model": model.name}, seed.stamps(now_ms)))
        seed.write_all(seed._node_samples(node.name, seed.stamps(now_ms), gpus=2))
        seed.write_all(seed._run_samples(str(run.uid), seed.stamps(now_ms), lr=3e-4))
        rollups.roll_up(now_ms)
    return model, node, run
