"""Silences: created by Responders, ended early by hand or when their incident resolves;
every change audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts.models import Silence
from alerts.schedule import Recurrence, active
from opsboard.audit.services import Actor, diff, record

AUDITED = ["matchers", "starts_at", "ends_at", "recurrence", "comment"]


def create_silence(values: dict[str, Any], *, by: Actor) -> Silence:
    with transaction.atomic():
        silence = Silence.objects.create(
            matchers=values["matchers"],
            starts_at=values["starts_at"],
            ends_at=values.get("ends_at"),
            recurrence=values.get("recurrence"),
            comment=values["comment"],
            created_by=by.user,
            incident=values.get("incident"),
            expire_with_incident=bool(values.get("expire_with_incident")),
        )
        record("silence.create", by=by, obj=silence, changes=diff(None, _audited(silence)))
    return silence


def expire_silence(silence: Silence, *, by: Actor, reason: str | None = None) -> Silence:
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        if silence.expired_at is None:
            silence.expired_at = timezone.now()
            silence.save(update_fields=["expired_at"])
            record("silence.expire", by=by, obj=silence, changes={"reason": reason} if reason else None)
    return silence


def is_active(silence: Silence, at: datetime | None = None) -> bool:
    if silence.expired_at is not None:
        return False
    recurrence = Recurrence.from_dict(silence.recurrence) if silence.recurrence else None
    return active(silence.starts_at, silence.ends_at, recurrence, at or timezone.now())


def _audited(silence: Silence) -> dict[str, Any]:
    return {name: getattr(silence, name) for name in AUDITED}
