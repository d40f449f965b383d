"""Tests of the notification transports; ``make_message`` builds the message they all send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.messages import Message

HOSTILE = "<script>alert(1)</script>"


def make_message(**changes: Any) -> Message:
    """A triggered critical incident on gpu-3 with two alerts, one link each way."""
    values: dict[str, Any] = {
        "event": "triggered",
        "incident_id": "0b6f5a54-6d3c-4d53-9d0e-2a8f0d0f7c42",
        "incident_code": "INC-42",
        "title": "GPU temperature high on gpu-3",
        "severity": "critical",
        "status": "triggered",
        "opened_at": datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
        "url": "https://opsboard.example/incidents/INC-42",
        "ack_url": "https://opsboard.example/i/INC-42/ack?sig=abc&exp=1",
        "resolve_url": "https://opsboard.example/i/INC-42/resolve?sig=def&exp=1",
        "labels": {"node": "gpu-3", "team": "ml-infra"},
        "alerts": [
            {
                "labels": {"node": "gpu-3", "gpu": "0"},
                "annotations": {"summary": "gpu-3 GPU 0 is at 91.5 °C"},
                "value": 91.5,
                "started_at": "2025-05-01T11:58:00+00:00",
            },
            {
                "labels": {"node": "gpu-3", "gpu": "1"},
                "annotations": {},
                "value": None,
                "started_at": "2025-05-01T11:59:00+00:00",
            },
        ],
        "summary": "gpu-3 is at 91.5 °C",
        "delivery_id": "7d7c1e0e-5b7a-4f51-8a7f-5f1b1c3d9e10",
        "recipient": "oncall-gpu",
    }
    return Message(**{**values, **changes})
