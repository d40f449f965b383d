"""Notification transports, one module per kind. ``TRANSPORTS`` maps each kind to its class;
the notification channels' kind choices are derived from it."""

from __future__ import annotations

from alerts.transports.base import Delivery, Transport
from alerts.transports.email import EmailTransport
from alerts.transports.slack import SlackTransport
from alerts.transports.webhook import WebhookTransport, verify_signature

TRANSPORTS: dict[str, type[Transport]] = {
    "email": EmailTransport,
    "webhook": WebhookTransport,
    "slack": SlackTransport,
}

__all__ = [
    "TRANSPORTS",
    "Delivery",
    "EmailTransport",
    "SlackTransport",
    "Transport",
    "WebhookTransport",
    "verify_signature",
]
