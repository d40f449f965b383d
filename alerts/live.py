"""Incident changes pushed to open pages: the incident list refreshes, the navigation's
count of open incidents moves, without a reload."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from alerts.models import Incident

logger = logging.getLogger(__name__)
GROUP = "incidents"


def open_count() -> int:
    return Incident.objects.filter(status__in=Incident.OPEN).count()


def announce() -> None:
    """After the current transaction commits, tell every page the new open count."""
    transaction.on_commit(_send)


def _send() -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(GROUP, {"type": "incidents.changed", "open": open_count()})
    except Exception as exc:  # a page misses an update it will get on its next load; the change stands
        logger.warning("incident update not broadcast: %s", exc)
