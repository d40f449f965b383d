"""Escalation policies: which one applies, and the copy an incident keeps of it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from alerts import setup
from alerts.models import AlertRule, EscalationPolicy, EscalationStep
from opsboard.audit.services import Actor

DEFAULT_NAME = "Default"


def policy_for(rule: AlertRule | None) -> EscalationPolicy | None:
    """The rule's policy, else the default one (None when there is none at all)."""
    if rule is not None and rule.policy_id:
        return rule.policy
    return EscalationPolicy.objects.filter(is_default=True).first()


def policy_snapshot(policy: EscalationPolicy | None) -> dict[str, Any]:
    """The policy as an incident keeps it: editing the policy later changes no running escalation."""
    if policy is None:
        return {"name": "(no policy)", "repeat": 0, "ack_timeout_s": None, "reminder_every_s": None, "steps": []}
    steps = policy.steps.select_related("schedule", "user", "channel").order_by("position")
    return {
        "id": str(policy.uid),
        "name": policy.name,
        "repeat": policy.repeat,
        "ack_timeout_s": policy.ack_timeout_s,
        "reminder_every_s": policy.reminder_every_s,
        "steps": [_step(step) for step in steps],
    }


def _step(step: EscalationStep) -> dict[str, Any]:
    if step.schedule_id:
        target = {"type": "schedule", "id": str(step.schedule.uid), "name": step.schedule.name}
    elif step.user_id:
        target = {"type": "user", "id": str(step.user.uid), "name": step.user.username}
    else:
        target = {"type": "channel", "id": str(step.channel.uid), "name": step.channel.name}
    return {"wait_minutes": step.wait_minutes, "target": target}


def ensure_default_policy(by: Actor | None = None) -> EscalationPolicy:
    """The default policy, created (without steps) when none is marked default."""
    by = by or Actor.system("setup")
    with transaction.atomic():
        policy = EscalationPolicy.objects.select_for_update().filter(is_default=True).first()
        if policy is not None:
            return policy
        named = EscalationPolicy.objects.filter(name=DEFAULT_NAME).first()
        if named is not None:
            return setup.make_default(named, by=by)
        return setup.create(EscalationPolicy, {"name": DEFAULT_NAME, "is_default": True}, by=by)
