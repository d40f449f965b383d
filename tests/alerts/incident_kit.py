"""Building blocks for the incident tests: rules fired through the real evaluator,
policies, channels, and a recording webhook receiver on loopback."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from alerts import evaluation, rules
from alerts.models import (
    AlertRule,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Incident,
    Notification,
    NotificationChannel,
)
from monitoring import store
from monitoring.samples import sample
from opsboard.accounts.models import User
from opsboard.audit.services import Actor
from tests import servers

SETUP = Actor.system("test")


_last_ms = [0]


def now_ms() -> int:
    """Now, rounded up to the second (never before what ``timezone.now()`` said a moment ago),
    and never the same instant twice: each write is a new sample."""
    _last_ms[0] = max(math.ceil(time.time()) * 1000, _last_ms[0] + 1000)
    return _last_ms[0]


def reset_clock() -> None:
    """Each test starts at now: a long run of tests calling ``now_ms`` would otherwise walk
    its clock minutes ahead, and pages read "now" from the real one."""
    _last_ms[0] = 0


def make_rule(name: str = "GPUHot", *, group_by: tuple[str, ...] = ("node",), **extra: object) -> AlertRule:
    values = {
        "name": name,
        "expression": "gpu_temp",
        "condition_kind": "threshold",
        "condition": {"op": ">", "value": 80},
        "group_by": list(group_by),
        "annotations": {"summary": "{{ labels.node }} GPU {{ labels.gpu }} at {{ value }}"},
        **extra,
    }
    return rules.create_rule(values, by=SETUP)


def temps(value: float, *, at_ms: int | None = None, node: str = "gpu-1", gpus: int = 1) -> int:
    """Write one temperature per GPU of ``node``; returns the time written."""
    at_ms = at_ms or now_ms()
    store.write([sample("gpu_temp", {"node": node, "gpu": str(g)}, at_ms, value) for g in range(gpus)])
    return at_ms


def evaluate(rule: AlertRule, at_ms: int) -> None:
    evaluation.evaluate_many([rule.pk], at_ms)


def fire(rule: AlertRule, value: float = 91.0, **where: object) -> Incident:
    evaluate(rule, temps(value, **where))
    return Incident.objects.get(rule=rule, status__in=Incident.OPEN)


def webhook_channel(name: str, url: str, secret: str = "") -> NotificationChannel:
    return NotificationChannel.objects.create(name=name, kind="webhook", config={"url": url, "secret": secret})


def webhook_contact(user: User, url: str) -> ContactMethod:
    return ContactMethod.objects.create(user=user, kind="webhook", config={"url": url})


def make_policy(
    *targets: User | NotificationChannel | object,
    name: str = "default",
    wait_minutes: int = 5,
    default: bool = True,
    **settings: object,
) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name=name, is_default=default, **settings)
    for position, target in enumerate(targets):
        kind = {"User": "user", "NotificationChannel": "channel", "Schedule": "schedule"}[type(target).__name__]
        EscalationStep.objects.create(policy=policy, position=position, wait_minutes=wait_minutes, **{kind: target})
    return policy


def outbox(incident: Incident, event: str | None = None) -> list[tuple[str, str]]:
    """(event, recipient) of the incident's notifications, oldest first."""
    rows = Notification.objects.filter(incident=incident).order_by("created_at", "id")
    if event:
        rows = rows.filter(event=event)
    return list(rows.values_list("event", "recipient_name"))


def timeline_kinds(incident: Incident) -> list[str]:
    return list(incident.events.order_by("at", "id").values_list("kind", flat=True))


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers ``fail_first`` requests with 503, then 200."""

    url: str = ""
    fail_first: int = 0
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        time.sleep(self.delay_s)
        with self.lock:
            self.requests.append({"headers": dict(handler.headers), "body": json.loads(raw or b"{}"), "raw": raw})
            failing = len(self.requests) <= self.fail_first
        servers.send(handler, 503 if failing else 200, b"down" if failing else b"ok")

    @property
    def accepted(self) -> list[dict]:
        return [r["body"] for r in self.requests[self.fail_first :]]


@contextmanager
def receiving(fail_first: int = 0, delay_s: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(fail_first=fail_first, delay_s=delay_s)
    with servers.serve(receiver.handle) as base:
        receiver.url = f"{base}/hook"
        yield receiver


@contextmanager
def receiving_on(port: int, receiver: Receiver) -> Iterator[Receiver]:
    """``receiver`` on a given port: a receiver coming back where it was."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = servers._Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
