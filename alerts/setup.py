"""Changes to who gets paged and how: schedules and their layers and overrides, escalation
policies and their steps, notification channels, people's contact methods. Every change
is audited; secrets (webhook URLs, HMAC secrets) are masked in the audit log, and stored
encrypted (``SECRET_CONFIG_KEYS``, see opsboard/crypto.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from alerts.models import EscalationPolicy
from alerts.models.oncall import SECRET_CONFIG_KEYS
from opsboard.audit.masking import MASK
from opsboard.audit.services import Actor, diff, record


def _fields(obj: models.Model, names: list[str]) -> dict[str, Any]:
    values = {}
    for name in names:
        value = getattr(obj, name)
        if name == "config" and isinstance(value, dict):
            value = {k: (MASK if k in SECRET_CONFIG_KEYS and v else v) for k, v in value.items()}
        values[name] = str(value) if isinstance(value, models.Model) else value
    return values


def create(model: type[models.Model], values: dict[str, Any], *, by: Actor) -> models.Model:
    with transaction.atomic():
        obj = model.objects.create(**values)
        record(f"{model._meta.model_name}.create", by=by, obj=obj, changes=diff(None, _fields(obj, list(values))))
    return obj


def update(obj: models.Model, values: dict[str, Any], *, by: Actor) -> models.Model:
    model = type(obj)
    with transaction.atomic():
        obj = model.objects.select_for_update().get(pk=obj.pk)
        before = _fields(obj, list(values))
        for name, value in values.items():
            setattr(obj, name, value)
        obj.save(update_fields=list(values))
        record(f"{model._meta.model_name}.update", by=by, obj=obj, changes=diff(before, _fields(obj, list(values))))
    return obj


def delete(obj: models.Model, *, by: Actor, parts: Iterable[models.Model] = ()) -> None:
    """Delete ``obj``; ``parts`` (its layers, steps, …) are deleted first, each audited too,
    rather than left to the cascade, which would leave no trace of them in the log."""
    with transaction.atomic():
        for part in parts:
            delete(part, by=by)
        record(f"{type(obj)._meta.model_name}.delete", by=by, obj=obj)
        obj.delete()


def make_default(policy: EscalationPolicy, *, by: Actor) -> EscalationPolicy:
    """The policy of every rule that names none (and of Alertmanager's alerts)."""
    with transaction.atomic():
        EscalationPolicy.objects.select_for_update().filter(is_default=True).exclude(pk=policy.pk).update(
            is_default=False
        )
        return update(policy, {"is_default": True}, by=by)
