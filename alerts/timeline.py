"""An incident's timeline: what happened, when, and who did it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from alerts.models import Incident, IncidentEvent
from opsboard.audit.services import Actor


def timeline(incident: Incident, kind: str, by: Actor | None = None, text: str = "", **data: Any) -> IncidentEvent:
    by = by or Actor.system("opsboard")
    return IncidentEvent.objects.create(
        incident=incident, at=timezone.now(), kind=kind, actor=by.user, actor_name=by.name, text=text[:5000], data=data
    )
