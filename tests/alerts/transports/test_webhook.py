"""The webhook transport against real HTTP servers on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from alerts.transports import TRANSPORTS, Delivery
from alerts.transports.base import allow_private_for
from alerts.transports.webhook import WebhookConfig, WebhookTransport, verify_signature
from monitoring.collectors.base import ConfigError
from tests import servers
from tests.alerts.transports import make_message

SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings) -> None:
    settings.NOTIFY_ALLOW_PRIVATE = False
    settings.NOTIFY_PRIVATE_ALLOWLIST = ["127.0.0.1", "localhost", "::1"]


class Received(list):
    """What a recording receiver got: (headers, raw body) per request."""

    def handler(self, code: int = 200, answer: bytes = b"") -> servers.Handler:
        def handle(request: BaseHTTPRequestHandler) -> None:
            length = int(request.headers.get("Content-Length") or 0)
            self.append((request.headers, request.rfile.read(length)))
            servers.send(request, code, answer)

        return handle


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def receiver(received: Received) -> Iterator[str]:
    with servers.serve(received.handler(204)) as url:
        yield url + "/hooks/opsboard"


def notify(url: str, secret: str = "", **message: object) -> Delivery:
    return WebhookTransport().notify(make_message(**message), WebhookConfig.from_dict({"url": url, "secret": secret}))


def test_the_kind_maps_to_the_webhook_transport() -> None:
    assert TRANSPORTS["webhook"] is WebhookTransport
    assert all(cls.kind == kind for kind, cls in TRANSPORTS.items())


def test_the_payload_arrives_with_the_documented_fields_and_headers(receiver: str, received: Received) -> None:
    delivery = notify(receiver, SECRET)
    assert delivery == Delivery(ok=True, status=204, error="", retry=False)
    [(headers, body)] = received
    payload = json.loads(body)
    assert payload["version"] == "1"
    assert payload["event"] == "triggered"
    assert payload["delivery_id"] == "7d7c1e0e-5b7a-4f51-8a7f-5f1b1c3d9e10"
    assert payload["incident"]["code"] == "INC-42"
    assert payload["links"]["acknowledge"] == "https://opsboard.example/i/INC-42/ack?sig=abc&exp=1"
    assert payload["recipient"] == "oncall-gpu"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Opsboard-Delivery"] == "7d7c1e0e-5b7a-4f51-8a7f-5f1b1c3d9e10"
    assert headers["X-Opsboard-Event"] == "triggered"
    assert abs(int(headers["X-Opsboard-Timestamp"]) - time.time()) < 5


def test_the_signature_verifies_and_matches_an_independent_computation(receiver: str, received: Received) -> None:
    notify(receiver, SECRET)
    [(headers, body)] = received
    timestamp, header = headers["X-Opsboard-Timestamp"], headers["X-Opsboard-Signature"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    assert verify_signature(SECRET, timestamp, body, header)


@pytest.mark.parametrize(
    ("secret", "age_s", "tamper"),
    [("wrong-secret", 0, False), ("", 0, False), (SECRET, 301, False), (SECRET, -301, False), (SECRET, 0, True)],
    ids=["wrong secret", "empty secret", "timestamp too old", "timestamp in the future", "altered body"],
)
def test_verify_signature_rejects(receiver: str, received: Received, secret: str, age_s: int, tamper: bool) -> None:
    notify(receiver, SECRET)
    [(headers, body)] = received
    timestamp = int(headers["X-Opsboard-Timestamp"])
    body = body.replace(b'"critical"', b'"info"') if tamper else body
    now = timestamp + age_s
    assert not verify_signature(secret, str(timestamp), body, headers["X-Opsboard-Signature"], now=now)


def test_verify_signature_rejects_a_signature_for_another_timestamp(receiver: str, received: Received) -> None:
    notify(receiver, SECRET)
    [(headers, body)] = received
    later = int(headers["X-Opsboard-Timestamp"]) + 1
    assert not verify_signature(SECRET, later, body, headers["X-Opsboard-Signature"], now=later)
    assert not verify_signature(SECRET, "12ab", body, headers["X-Opsboard-Signature"])
    assert not verify_signature(SECRET, headers["X-Opsboard-Timestamp"], body, "sha256=ünïcode")


def test_verify_signature_accepts_up_to_five_minutes_late(receiver: str, received: Received) -> None:
    notify(receiver, SECRET)
    [(headers, body)] = received
    timestamp = int(headers["X-Opsboard-Timestamp"])
    assert verify_signature(SECRET, timestamp, body, headers["X-Opsboard-Signature"], now=timestamp + 300)


def test_without_a_secret_the_request_is_unsigned(receiver: str, received: Received) -> None:
    assert notify(receiver).ok
    [(headers, _)] = received
    assert "X-Opsboard-Signature" not in headers
    assert "X-Opsboard-Timestamp" in headers


@pytest.mark.parametrize(
    ("code", "retry"),
    [(500, True), (503, True), (429, True), (400, False), (404, False), (410, False), (302, False)],
)
def test_a_failing_answer_says_whether_to_retry(code: int, retry: bool) -> None:
    with servers.serve(servers.status(code, "nope, try\nagain")) as url:
        delivery = notify(url)
    assert (delivery.ok, delivery.status, delivery.retry) == (False, code, retry)
    assert delivery.error.startswith(f"HTTP {code}")
    assert delivery.error.endswith(": nope, try again")


def test_a_long_answer_to_a_delivery_still_counts_as_delivered() -> None:
    with servers.serve(servers.huge(2)) as url:
        delivery = notify(url)
    assert delivery == Delivery(ok=True, status=200, error="", retry=False)


def test_a_hanging_receiver_fails_within_the_timeout() -> None:
    transport = WebhookTransport()
    transport.timeout_s = 0.5
    with servers.serve(servers.hanging(5)) as url:
        started = time.monotonic()
        delivery = transport.notify(make_message(), WebhookConfig.from_dict({"url": url}))
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert (delivery.ok, delivery.status, delivery.retry) == (False, None, True)
    assert delivery.error == "no answer within 0.5 s"


def test_a_closed_port_fails_and_is_retried() -> None:
    delivery = notify(f"http://127.0.0.1:{servers.free_port()}/hook")
    assert (delivery.ok, delivery.status, delivery.retry) == (False, None, True)
    assert delivery.error.startswith("cannot connect")


def test_a_private_address_is_refused_without_a_connection() -> None:
    started = time.monotonic()
    delivery = notify("http://10.1.2.3:8080/hook")
    assert time.monotonic() - started < 0.5
    assert not delivery.ok
    assert "10.1.2.3 resolves to 10.1.2.3, an address inside the network" in delivery.error


def test_loopback_is_refused_unless_allowed(settings, received: Received) -> None:
    settings.NOTIFY_PRIVATE_ALLOWLIST = []
    with servers.serve(received.handler()) as url:
        refused = notify(url)
        settings.NOTIFY_ALLOW_PRIVATE = True
        allowed = notify(url)
    assert "inside the network" in refused.error
    assert allowed.ok
    assert len(received) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_on_the_allowlist_is_allowed(settings, received: Received, host: str) -> None:
    settings.NOTIFY_PRIVATE_ALLOWLIST = [host]
    with servers.serve(received.handler()) as url:
        delivery = notify(url.replace("127.0.0.1", host))
    assert delivery.ok
    assert len(received) == 1


def test_the_private_policy_reads_the_settings(settings) -> None:
    settings.NOTIFY_PRIVATE_ALLOWLIST = ["10.1.2.3", "Hooks.Internal"]
    assert allow_private_for("http://10.1.2.3/hook")
    assert allow_private_for("https://hooks.internal/x")
    assert not allow_private_for("http://10.9.9.9/hook")
    settings.NOTIFY_ALLOW_PRIVATE = True
    assert allow_private_for("http://10.9.9.9/hook")


def test_the_private_policy_has_defaults_without_settings(settings) -> None:
    del settings.NOTIFY_ALLOW_PRIVATE
    del settings.NOTIFY_PRIVATE_ALLOWLIST
    assert allow_private_for("http://[::1]:9000/hook")
    assert allow_private_for("http://localhost/hook")
    assert not allow_private_for("http://10.1.2.3/hook")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "url", "a URL is needed"),
        ({"url": "  "}, "url", "a URL is needed"),
        ({"url": "ftp://example.test/x"}, "url", "only http and https"),
        ({"url": "https:///path"}, "url", "names no host"),
        ({"url": 42}, "url", "is not text"),
        ({"url": "https://example.test", "secret": 7}, "secret", "is not text"),
        ({"url": "https://example.test", "token": "x"}, "token", "unknown setting"),
    ],
)
def test_a_bad_config_names_its_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookConfig.from_dict(data)
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_good_config_is_kept_with_the_url_trimmed() -> None:
    config = WebhookConfig.from_dict({"url": " https://example.test/hook ", "secret": "x"})
    assert config == WebhookConfig(url="https://example.test/hook", secret="x")
    assert WebhookConfig.from_dict({"url": "http://example.test"}).secret == ""
