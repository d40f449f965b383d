"""The email transport through Django's SMTP backend to a real SMTP server on loopback."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.transports import TRANSPORTS, Delivery
from alerts.transports.email import EmailConfig, EmailTransport, smtp_failure
from monitoring.collectors.base import ConfigError
from tests import servers
from tests.alerts.transports import HOSTILE, make_message

ADDRESSES = ["rosa@example.test", "ops@example.test"]


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, or answers RCPT or DATA as told."""

    def __init__(self, rcpt_reply: str = "", data_reply: str = "250 OK") -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]


def smtp_settings(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "opsboard@example.test"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    """A running SMTP server that accepts everything; Django's mail settings point at it."""
    with running(settings, Inbox()) as inbox:
        yield inbox


@contextmanager
def running(settings: Any, inbox: Inbox) -> Iterator[Inbox]:
    controller = Controller(inbox, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    smtp_settings(settings, controller.port)
    try:
        yield inbox
    finally:
        controller.stop()


def notify(**message: object) -> Delivery:
    return EmailTransport().notify(make_message(**message), EmailConfig.from_dict({"addresses": ADDRESSES}))


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_the_kind_maps_to_the_email_transport() -> None:
    assert TRANSPORTS["email"] is EmailTransport


def test_one_mail_with_text_html_and_delivery_headers_is_sent(smtp: Inbox) -> None:
    assert notify() == Delivery(ok=True, status=None, error="", retry=False)
    [envelope] = smtp.envelopes
    assert envelope.mail_from == "opsboard@example.test"
    assert envelope.rcpt_tos == ADDRESSES
    [mail] = smtp.messages()
    assert mail["Subject"] == "[CRITICAL] INC-42 Triggered: GPU temperature high on gpu-3"
    assert mail["X-Opsboard-Delivery"] == "7d7c1e0e-5b7a-4f51-8a7f-5f1b1c3d9e10"
    assert mail["X-Opsboard-Incident"] == "0b6f5a54-6d3c-4d53-9d0e-2a8f0d0f7c42"
    assert mail["Auto-Submitted"] == "auto-generated"
    text, html = parts(mail)
    assert "Acknowledge: https://opsboard.example/i/INC-42/ack?sig=abc&exp=1" in text
    assert "Incident: https://opsboard.example/incidents/INC-42" in text
    assert 'href="https://opsboard.example/i/INC-42/resolve?sig=def&amp;exp=1"' in html
    assert "gpu-3 is at 91.5 °C" in html


def test_html_looking_labels_are_escaped_in_html_and_verbatim_in_text(smtp: Inbox) -> None:
    assert notify(labels={"team": HOSTILE}).ok
    text, html = parts(smtp.messages()[0])
    assert f"team={HOSTILE}" in text
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_asmtp_failure_recipient_fails_for_good(settings: Any) -> None:
    with running(settings, Inbox(rcpt_reply="550 5.1.1 no such user")) as inbox:
        delivery = notify()
    assert (delivery.ok, delivery.status, delivery.retry) == (False, None, False)
    assert "550 5.1.1 no such user" in delivery.error
    assert inbox.envelopes == []


def test_a_temporary_refusal_is_retried(settings: Any) -> None:
    with running(settings, Inbox(data_reply="451 4.3.0 try again later")):
        delivery = notify()
    assert (delivery.ok, delivery.retry) == (False, True)
    assert delivery.error == "the mail server answered 451 4.3.0 try again later"


def test_a_permanent_refusal_of_the_message_is_not_retried(settings: Any) -> None:
    with running(settings, Inbox(data_reply="554 5.7.1 rejected as spam")):
        delivery = notify()
    assert (delivery.ok, delivery.retry) == (False, False)
    assert delivery.error == "the mail server answered 554 5.7.1 rejected as spam"


def test_an_unreachable_server_fails_and_is_retried(settings: Any) -> None:
    smtp_settings(settings, servers.free_port())
    delivery = notify()
    assert (delivery.ok, delivery.retry) == (False, True)
    assert delivery.error.startswith("cannot reach the mail server")


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), False),
        (smtplib.SMTPAuthenticationError(454, b"4.7.0 temporary auth failure"), True),
        (smtplib.SMTPSenderRefused(553, b"not yours", "opsboard@example.test"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPRecipientsRefused({"a@example.test": (450, b"greylisted")}), True),
    ],
)
def test_smtp_errors_are_retried_only_when_temporary(error: smtplib.SMTPException, retry: bool) -> None:
    delivery = smtp_failure(error)
    assert (delivery.ok, delivery.retry) == (False, retry)
    assert delivery.error


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "at least one address is needed"),
        ({"addresses": []}, "at least one address is needed"),
        ({"addresses": " , "}, "at least one address is needed"),
        ({"addresses": ["rosa@example.test", "not-an-address"]}, "'not-an-address' is not an email address"),
        ({"addresses": ["rosa@example.test\nBcc: x@example.test"]}, "is not an email address"),
        ({"addresses": [1]}, "must be a list of email addresses"),
        ({"addresses": {"a": "b"}}, "must be a list of email addresses"),
        ({"addresses": [f"u{n}@example.test" for n in range(51)]}, "at most 50 addresses"),
    ],
)
def test_bad_addresses_are_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EmailConfig.from_dict(data)
    assert caught.value.field == "addresses"
    assert message in caught.value.message


def test_an_unknown_setting_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        EmailConfig.from_dict({"addresses": ADDRESSES, "cc": "x@example.test"})
    assert caught.value.field == "cc"


def test_addresses_may_be_one_string_and_repeats_are_dropped() -> None:
    config = EmailConfig.from_dict({"addresses": "rosa@example.test, ops@example.test\nrosa@example.test"})
    assert config.addresses == ["rosa@example.test", "ops@example.test"]
