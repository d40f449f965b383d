"""Rendering a notification: mail texts, the webhook payload and Slack's blocks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from alerts.messages import MAX_SHOWN_ALERTS, render_text, slack_payload, webhook_payload
from tests.alerts.transports import HOSTILE, make_message


def blocks_of(payload: dict, kind: str) -> list[dict]:
    return [block for block in payload["blocks"] if block["type"] == kind]


def test_the_subject_names_severity_code_event_and_title() -> None:
    subject, _, _ = render_text(make_message())
    assert subject == "[CRITICAL] INC-42 Triggered: GPU temperature high on gpu-3"


def test_the_subject_stays_on_one_line() -> None:
    subject, _, _ = render_text(make_message(event="acknowledged", title="hot\r\nBcc: someone@example.test"))
    assert subject == "[CRITICAL] INC-42 Acknowledged: hot Bcc: someone@example.test"


def test_the_text_body_has_summary_labels_alerts_and_links() -> None:
    _, text, _ = render_text(make_message())
    assert text.startswith("gpu-3 is at 91.5 °C\n")
    assert "  node=gpu-3\n" in text
    assert "  - gpu=0, node=gpu-3  value 91.5  since 2025-05-01T11:58:00+00:00\n" in text
    assert "      summary: gpu-3 GPU 0 is at 91.5 °C\n" in text
    assert "Acknowledge: https://opsboard.example/i/INC-42/ack?sig=abc&exp=1\n" in text
    assert "Resolve: https://opsboard.example/i/INC-42/resolve?sig=def&exp=1\n" in text
    assert text.endswith("Incident: https://opsboard.example/incidents/INC-42\n")
    assert "\n\n\n" not in text


def test_a_hostile_label_is_escaped_in_html_and_verbatim_in_text() -> None:
    alert = {"labels": {"job": HOSTILE}, "annotations": {"summary": HOSTILE}, "value": 1.0, "started_at": ""}
    message = make_message(labels={"team": HOSTILE}, alerts=[alert], title=f"title {HOSTILE}", summary=HOSTILE)
    subject, text, html = render_text(message)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"  team={HOSTILE}\n" in text
    assert f"      summary: {HOSTILE}\n" in text
    assert subject.endswith(f"title {HOSTILE}")


def test_the_html_body_has_the_links_with_escaped_ampersands() -> None:
    _, _, html = render_text(make_message())
    assert 'href="https://opsboard.example/i/INC-42/ack?sig=abc&amp;exp=1"' in html
    assert 'href="https://opsboard.example/i/INC-42/resolve?sig=def&amp;exp=1"' in html


def test_without_links_neither_body_offers_them() -> None:
    _, text, html = render_text(make_message(event="resolved", ack_url=None, resolve_url=None))
    assert "Acknowledge" not in text
    assert "Resolve:" not in text
    assert "Acknowledge" not in html
    assert "Open the incident" in html


def test_many_alerts_are_shown_up_to_a_limit_and_counted() -> None:
    alerts = [{"labels": {"gpu": str(n)}, "annotations": {}, "value": n, "started_at": ""} for n in range(25)]
    _, text, html = render_text(make_message(alerts=alerts))
    assert text.count("  - gpu=") == MAX_SHOWN_ALERTS
    assert "Alerts (25):" in text
    assert "… and 5 more" in text
    assert "… and 5 more" in html


def test_the_webhook_payload_has_the_documented_fields_and_is_json() -> None:
    payload = webhook_payload(make_message())
    document = json.loads(json.dumps(payload, allow_nan=False))
    fields = {"version", "event", "delivery_id", "incident", "alerts", "alerts_total", "links", "recipient"}
    assert set(document) == fields
    assert document["version"] == "1"
    assert document["incident"] == {
        "id": "0b6f5a54-6d3c-4d53-9d0e-2a8f0d0f7c42",
        "code": "INC-42",
        "title": "GPU temperature high on gpu-3",
        "severity": "critical",
        "status": "triggered",
        "url": "https://opsboard.example/incidents/INC-42",
        "opened_at": "2025-05-01T12:00:00+00:00",
        "labels": {"node": "gpu-3", "team": "ml-infra"},
        "summary": "gpu-3 is at 91.5 °C",
    }
    assert document["alerts"][0] == {
        "labels": {"node": "gpu-3", "gpu": "0"},
        "annotations": {"summary": "gpu-3 GPU 0 is at 91.5 °C"},
        "value": 91.5,
        "started_at": "2025-05-01T11:58:00+00:00",
    }
    assert document["links"] == {
        "acknowledge": "https://opsboard.example/i/INC-42/ack?sig=abc&exp=1",
        "resolve": "https://opsboard.example/i/INC-42/resolve?sig=def&exp=1",
    }
    assert (document["alerts_total"], document["recipient"]) == (2, "oncall-gpu")


def test_the_webhook_payload_turns_non_finite_values_into_null_and_times_into_utc() -> None:
    alert = {"labels": {}, "annotations": {}, "value": float("nan"), "started_at": "x"}
    opened = datetime(2025, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    payload = webhook_payload(make_message(alerts=[alert, {**alert, "value": float("inf")}], opened_at=opened))
    json.dumps(payload, allow_nan=False)
    assert [a["value"] for a in payload["alerts"]] == [None, None]
    assert payload["incident"]["opened_at"] == "2025-05-01T12:00:00+00:00"


def test_slack_blocks_have_a_header_the_summary_labels_and_link_buttons() -> None:
    payload = slack_payload(make_message())
    subject = "[CRITICAL] INC-42 Triggered: GPU temperature high on gpu-3"
    assert payload["text"] == f"{subject} — gpu-3 is at 91.5 °C"
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context", "actions"]
    assert blocks_of(payload, "header")[0]["text"]["text"] == subject
    section = blocks_of(payload, "section")[0]
    assert section["text"]["text"].startswith("gpu-3 is at 91.5 °C\n<https://opsboard.example/incidents/INC-42|INC-42>")
    assert [f["text"] for f in section["fields"]] == ["*node*\ngpu-3", "*team*\nml-infra"]
    buttons = blocks_of(payload, "actions")[0]["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Acknowledge", "https://opsboard.example/i/INC-42/ack?sig=abc&exp=1"),
        ("Resolve", "https://opsboard.example/i/INC-42/resolve?sig=def&exp=1"),
    ]


def test_slack_blocks_have_no_buttons_without_links() -> None:
    payload = slack_payload(make_message(event="resolved", ack_url=None, resolve_url=None))
    assert blocks_of(payload, "actions") == []
    assert "Acknowledge" not in json.dumps(payload)


def test_slack_blocks_offer_only_the_links_that_exist() -> None:
    payload = slack_payload(make_message(event="acknowledged", ack_url=None))
    assert [b["action_id"] for b in blocks_of(payload, "actions")[0]["elements"]] == ["resolve"]


def test_slack_text_cannot_mention_the_channel_or_forge_links() -> None:
    payload = slack_payload(make_message(summary="<!channel> look", labels={"team": "<https://evil|ok>"}))
    text = json.dumps(payload)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; look" in payload["text"]
    assert blocks_of(payload, "section")[0]["fields"] == [{"type": "mrkdwn", "text": "*team*\n&lt;https://evil|ok&gt;"}]


def test_slack_limits_are_respected() -> None:
    labels = {f"label{n:02d}": "x" * 3000 for n in range(14)}
    payload = slack_payload(make_message(title="t" * 300, summary="s" * 4000, labels=labels))
    assert len(blocks_of(payload, "header")[0]["text"]["text"]) <= 150
    section = blocks_of(payload, "section")[0]
    assert len(section["text"]["text"]) <= 3000
    assert len(section["fields"]) == 10
    assert all(len(f["text"]) <= 2000 for f in section["fields"])
    assert "4 more labels" in blocks_of(payload, "context")[0]["elements"][0]["text"]
    assert len(payload["text"]) <= 3000
