"""What a notification says, whichever way it goes: one ``Message`` per delivery, rendered
to mail (subject, text, HTML from ``templates/notifications/``), the webhook's JSON payload
and Slack's blocks.

Labels, annotations and titles come from users: the HTML template escapes them, the Slack
text escapes Slack's control characters (so a label cannot ping ``<!channel>``), and the
plain text keeps them verbatim.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.template.loader import render_to_string

from alerts.templating import format_value

PAYLOAD_VERSION = "1"
EVENTS = ("triggered", "escalated", "reminder", "acknowledged", "resolved", "reopened", "test")
# Mail and Slack show this many alerts and count the rest; the webhook carries up to MAX_PAYLOAD_ALERTS.
MAX_SHOWN_ALERTS = 20
MAX_PAYLOAD_ALERTS = 100
_SLACK_FIELDS = 10  # Slack's limit on fields in one section
_SUBJECT_LIMIT = 250


@dataclass(frozen=True)
class Message:
    """One notification for one recipient; the engine builds it from the incident and its outbox row."""

    event: str
    incident_id: str
    incident_code: str
    title: str
    severity: str
    status: str
    opened_at: datetime
    url: str
    ack_url: str | None
    resolve_url: str | None
    labels: dict[str, str] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    alerts_total: int | None = None  # all the incident's alerts; ``alerts`` may hold fewer
    summary: str = ""
    delivery_id: str = ""
    recipient: str = ""

    @property
    def total(self) -> int:
        return len(self.alerts) if self.alerts_total is None else self.alerts_total

    @property
    def event_title(self) -> str:
        return self.event.capitalize()

    @property
    def has_links(self) -> bool:
        return bool(self.ack_url or self.resolve_url)


# --- Mail ------------------------------------------------------------------------------------


def render_text(message: Message) -> tuple[str, str, str]:
    """(subject, plain text body, HTML body) from ``templates/notifications/``."""
    context = _context(message)
    subject = render_to_string("notifications/subject.txt", context)
    text = render_to_string("notifications/body.txt", context)
    html = render_to_string("notifications/body.html", context)
    return _one_line(subject, _SUBJECT_LIMIT), _tidy(text), html


def subject_line(message: Message) -> str:
    """``[CRITICAL] INC-42 Triggered: GPU temperature high on gpu-3``, also Slack's header."""
    return _one_line(render_to_string("notifications/subject.txt", _context(message)), _SUBJECT_LIMIT)


def _context(message: Message) -> dict[str, Any]:
    alerts = [_shown_alert(alert) for alert in message.alerts[:MAX_SHOWN_ALERTS]]
    return {
        "message": message,
        "severity_label": message.severity.upper(),
        "event_title": message.event_title,
        "opened_at": _display_time(message.opened_at),
        "labels": sorted(message.labels.items()),
        "alerts": alerts,
        "alerts_total": message.total,
        "alerts_hidden": max(0, message.total - len(alerts)),
    }


def _shown_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    labels = alert.get("labels") or {}
    return {
        "labels": sorted(labels.items()),
        "labels_text": ", ".join(f"{key}={value}" for key, value in sorted(labels.items())),
        "annotations": sorted((alert.get("annotations") or {}).items()),
        "value": "" if alert.get("value") is None else format_value(alert["value"]),
        "started_at": alert.get("started_at") or "",
    }


def _display_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _one_line(text: str, limit: int) -> str:
    """Whitespace (newlines included: a mail header must not have any) collapsed, and cut at ``limit``."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _tidy(text: str) -> str:
    """Template tags leave blank lines behind; keep at most one in a row."""
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"


# --- Webhook ---------------------------------------------------------------------------------


def webhook_payload(message: Message) -> dict[str, Any]:
    """The documented JSON payload, version "1" (see ``alerts.transports.webhook``)."""
    return {
        "version": PAYLOAD_VERSION,
        "event": message.event,
        "delivery_id": message.delivery_id,
        "incident": {
            "id": message.incident_id,
            "code": message.incident_code,
            "title": message.title,
            "severity": message.severity,
            "status": message.status,
            "url": message.url,
            "opened_at": message.opened_at.astimezone(UTC).isoformat(),
            "labels": dict(message.labels),
            "summary": message.summary,
        },
        "alerts": [_payload_alert(alert) for alert in message.alerts[:MAX_PAYLOAD_ALERTS]],
        "alerts_total": message.total,
        "links": {"acknowledge": message.ack_url, "resolve": message.resolve_url},
        "recipient": message.recipient,
    }


def _payload_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "labels": dict(alert.get("labels") or {}),
        "annotations": dict(alert.get("annotations") or {}),
        "value": _json_number(alert.get("value")),
        "started_at": alert.get("started_at"),
    }


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null, like a missing value."""
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


# --- Slack -----------------------------------------------------------------------------------


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack incoming-webhook JSON: ``text`` for notifications, and blocks: header, a section
    with the summary and labels, a context line, and link buttons when there are links."""
    subject = subject_line(message)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(subject, 150), "emoji": True}},
        _slack_section(message),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_context(message)}]},
    ]
    if message.has_links:
        blocks.append(_slack_actions(message))
    return {"text": _cut(slack_escape(f"{subject} — {message.summary or message.title}"), 3000), "blocks": blocks}


def slack_escape(text: str) -> str:
    """Slack's three control characters; anything else in mrkdwn is harmless formatting."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_section(message: Message) -> dict[str, Any]:
    summary = slack_escape(message.summary or message.title)
    link = f"<{slack_escape(message.url)}|{slack_escape(message.incident_code)}>"
    section: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _cut(f"{summary}\n{link} · *{slack_escape(message.severity)}*", 3000)},
    }
    labels = sorted(message.labels.items())
    if labels:
        section["fields"] = [
            {"type": "mrkdwn", "text": _cut(f"*{slack_escape(key)}*\n{slack_escape(value)}", 2000)}
            for key, value in labels[:_SLACK_FIELDS]
        ]
    return section


def _slack_context(message: Message) -> str:
    count = message.total
    parts = [f"{message.event_title} · {message.status}", f"opened {_display_time(message.opened_at)}"]
    parts.append(f"{count} alert{'' if count == 1 else 's'}")
    hidden = len(message.labels) - _SLACK_FIELDS
    if hidden > 0:
        parts.append(f"{hidden} more label{'' if hidden == 1 else 's'}")
    return slack_escape(" · ".join(parts))


def _slack_actions(message: Message) -> dict[str, Any]:
    buttons = []
    if message.ack_url:
        buttons.append(_button("Acknowledge", "acknowledge", message.ack_url, style="primary"))
    if message.resolve_url:
        buttons.append(_button("Resolve", "resolve", message.resolve_url))
    return {"type": "actions", "elements": buttons}


def _button(text: str, action_id: str, url: str, *, style: str = "") -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": text}, "url": url, "action_id": action_id}
    if style:
        button["style"] = style
    return button


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
