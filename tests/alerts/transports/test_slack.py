"""The Slack transport against a real HTTP server on loopback that answers as Slack does."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from alerts.transports import TRANSPORTS, Delivery
from alerts.transports.slack import SlackConfig, SlackTransport
from monitoring.collectors.base import ConfigError
from tests import servers
from tests.alerts.transports import make_message


@pytest.fixture(autouse=True)
def _loopback_allowed(settings) -> None:
    settings.NOTIFY_ALLOW_PRIVATE = False
    settings.NOTIFY_PRIVATE_ALLOWLIST = ["127.0.0.1", "localhost", "::1"]


def notify(url: str, **message: object) -> Delivery:
    return SlackTransport().notify(make_message(**message), SlackConfig.from_dict({"webhook_url": url}))


def slack(received: list) -> servers.Handler:
    """Slack's incoming webhook: records the request, answers 200 ``ok``."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        received.append((request.path, request.headers, servers.read_json(request)))
        servers.send(request, 200, b"ok")

    return handle


def test_the_kind_maps_to_the_slack_transport() -> None:
    assert TRANSPORTS["slack"] is SlackTransport


def test_the_message_is_posted_as_text_and_blocks() -> None:
    received: list = []
    with servers.serve(slack(received)) as url:
        delivery = notify(url + "/services/T000/B000/XXXX")
    assert delivery == Delivery(ok=True, status=200, error="", retry=False)
    [(path, headers, payload)] = received
    assert path == "/services/T000/B000/XXXX"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Opsboard-Delivery"] == "7d7c1e0e-5b7a-4f51-8a7f-5f1b1c3d9e10"
    assert payload["text"].startswith("[CRITICAL] INC-42 Triggered: GPU temperature high on gpu-3")
    assert [block["type"] for block in payload["blocks"]] == ["header", "section", "context", "actions"]
    buttons = payload["blocks"][-1]["elements"]
    assert [button["url"] for button in buttons] == [
        "https://opsboard.example/i/INC-42/ack?sig=abc&exp=1",
        "https://opsboard.example/i/INC-42/resolve?sig=def&exp=1",
    ]


def test_a_resolved_message_has_no_buttons() -> None:
    received: list = []
    with servers.serve(slack(received)) as url:
        assert notify(url, event="resolved", status="resolved", ack_url=None, resolve_url=None).ok
    [(_, _, payload)] = received
    assert [block["type"] for block in payload["blocks"]] == ["header", "section", "context"]


@pytest.mark.parametrize(
    ("code", "answer", "retry"),
    [
        (400, "invalid_payload", False),
        (403, "action_prohibited", False),
        (404, "channel_not_found", False),
        (410, "channel_is_archived", False),
        (429, "rate_limited", True),
        (500, "rollup_error", True),
    ],
)
def test_slack_errors_say_whether_to_retry(code: int, answer: str, retry: bool) -> None:
    with servers.serve(servers.status(code, answer)) as url:
        delivery = notify(url)
    assert delivery == Delivery(ok=False, status=code, error=f"HTTP {code}: {answer}", retry=retry)


def test_a_hanging_slack_fails_within_the_timeout() -> None:
    transport = SlackTransport()
    transport.timeout_s = 0.5
    with servers.serve(servers.hanging(5)) as url:
        started = time.monotonic()
        delivery = transport.notify(make_message(), SlackConfig.from_dict({"webhook_url": url}))
    assert time.monotonic() - started < 2
    assert (delivery.ok, delivery.retry, delivery.error) == (False, True, "no answer within 0.5 s")


def test_a_private_address_is_refused_unless_allowed(settings) -> None:
    delivery = notify("http://10.1.2.3/services/x")
    assert (delivery.ok, delivery.status) == (False, None)
    assert "inside the network" in delivery.error
    settings.NOTIFY_PRIVATE_ALLOWLIST = []
    received: list = []
    with servers.serve(slack(received)) as url:
        assert "inside the network" in notify(url).error
    assert received == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "webhook_url", "a URL is needed"),
        ({"webhook_url": "hooks.slack.com/services/x"}, "webhook_url", "only http and https"),
        ({"webhook_url": ["https://hooks.slack.com"]}, "webhook_url", "is not text"),
        ({"webhook_url": "https://hooks.slack.com/x", "channel": "#ops"}, "channel", "unknown setting"),
    ],
)
def test_a_bad_config_names_its_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SlackConfig.from_dict(data)
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_good_config_is_kept() -> None:
    config = SlackConfig.from_dict({"webhook_url": "https://hooks.slack.com/services/T0/B0/x "})
    assert config.webhook_url == "https://hooks.slack.com/services/T0/B0/x"
