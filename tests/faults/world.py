"""Set-up steps of the fault tests, run in a Django subprocess against a stack's private
database and Redis (the test process's own Django points at pytest's database):

    python -m tests.faults.world '[["viewer", {}], ["target", {"name": "m", "url": "…"}]]'

prints one JSON line: the result of each step, in order. Everything goes through the same
service functions as the application (targets, rules, tokens), or the store and the evaluator
themselves.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsboard.settings")
django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

from alerts import evaluation  # noqa: E402
from alerts.models import AlertRule, EscalationPolicy, EscalationStep, NotificationChannel  # noqa: E402
from alerts.rules import create_rule  # noqa: E402
from monitoring import store  # noqa: E402
from monitoring.models import ModelEndpoint  # noqa: E402
from monitoring.samples import sample  # noqa: E402
from monitoring.targets import create_target  # noqa: E402
from opsboard.accounts import roles  # noqa: E402
from opsboard.accounts.models import User  # noqa: E402
from opsboard.accounts.services import create_token  # noqa: E402
from opsboard.audit.services import Actor  # noqa: E402

BY = Actor.system("faults")


def viewer(username: str = "vic") -> dict[str, str]:
    """A Viewer with a signed-in session (for a browser) and a token of scopes ingest and read."""
    user = User.objects.create(username=username, email=f"{username}@example.test", role_id=roles.VIEWER)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    token = create_token(user=user, name="faults", scopes=["ingest", "read"], by=BY)[1]
    return {"session": session.session_key, "token": token}


def target(name: str, url: str, interval_s: int, timeout_s: float) -> dict[str, str]:
    """A ``prometheus`` model endpoint, due at once."""
    values = {"name": name, "kind": "prometheus", "url": url, "interval_s": interval_s, "timeout_s": timeout_s}
    endpoint = create_target(ModelEndpoint, values, by=BY)
    return {"uid": str(endpoint.uid)}


def webhook_policy(url: str, name: str = "receiver") -> int:
    """The default escalation policy: one step, a webhook channel to ``url`` (waits 60 minutes)."""
    channel = NotificationChannel.objects.create(name=name, kind="webhook", config={"url": url, "secret": ""})
    policy = EscalationPolicy.objects.create(name=name, is_default=True)
    EscalationStep.objects.create(policy=policy, position=0, wait_minutes=60, channel=channel)
    return policy.pk


def rule(name: str, expression: str, above: float, group_by: list[str], severity: str = "critical") -> int:
    """``expression > above``, for 0, paging the default policy."""
    values = {
        "name": name,
        "expression": expression,
        "condition_kind": "threshold",
        "condition": {"op": ">", "value": above},
        "for_s": 0,
        "severity": severity,
        "group_by": group_by,
    }
    return create_rule(values, by=BY).pk


def rules(count: int, metric: str, severity: str = "info") -> list[int]:
    """``count`` rules ``metric{rule="<i>"} > 0``, one alert and one incident each. Their samples
    are written first, while no rule watches the metric: nothing is evaluated on arrival, the
    next pass finds every rule due to fire."""
    now_ms = int(time.time() * 1000)
    store.write([sample(metric, {"rule": str(i)}, now_ms - 1000, 1.0) for i in range(count)])
    return [rule(f"{metric}-{i}", f'{metric}{{rule="{i}"}}', 0.0, ["rule"], severity) for i in range(count)]


def fire(metric: str, labels: list[dict[str, str]], value: float) -> int:
    """Write ``metric`` for each label set and evaluate every rule now, as the evaluator would;
    returns the transitions made."""
    now_ms = int(time.time() * 1000)
    store.write([sample(metric, one, now_ms, value) for one in labels])
    return evaluation.evaluate_many(list(AlertRule.objects.values_list("pk", flat=True)), now_ms)


STEPS = {f.__name__: f for f in (viewer, target, webhook_policy, rule, rules, fire)}


def main(plan: str) -> None:
    results: list[Any] = [STEPS[name](**kwargs) for name, kwargs in json.loads(plan)]
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
