"""Email: one message with a plain text and an HTML part, through Django's configured mail
backend (``EMAIL_*`` settings), from ``DEFAULT_FROM_EMAIL``.

SMTP answers decide the retry: a temporary refusal (4xx: greylisting, a full queue) or a
lost connection is worth another try; a permanent one (5xx: unknown recipient, failed
authentication) is not.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from alerts.messages import Message, render_text
from alerts.transports.base import Delivery, Transport
from monitoring.collectors.base import ConfigError, config_from_dict

MAX_ADDRESSES = 50
TIMEOUT_S = 10


@dataclass(frozen=True)
class EmailConfig:
    """``addresses``: a list, or one string of addresses separated by commas or new lines."""

    addresses: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmailConfig:
        config = config_from_dict(cls, data)
        return cls(addresses=clean_addresses(config.addresses))


def clean_addresses(value: Any) -> list[str]:
    """Valid, distinct addresses in their order; ConfigError naming ``addresses`` otherwise."""
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ConfigError("addresses", "must be a list of email addresses")
    addresses = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if not addresses:
        raise ConfigError("addresses", "at least one address is needed")
    if len(addresses) > MAX_ADDRESSES:
        raise ConfigError("addresses", f"at most {MAX_ADDRESSES} addresses")
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ConfigError("addresses", f"{address!r} is not an email address") from None
    return addresses


class EmailTransport(Transport):
    kind = "email"
    Config = EmailConfig
    timeout_s: ClassVar[float] = TIMEOUT_S

    def notify(self, message: Message, config: EmailConfig) -> Delivery:
        try:
            sent = self._build(message, config).send()
        except smtplib.SMTPException as exc:
            return smtp_failure(exc)
        except OSError as exc:  # refused, unreachable, timed out, TLS failed
            return Delivery.failed(f"cannot reach the mail server: {exc}", retry=True)
        if not sent:
            return Delivery.failed("the mail backend sent nothing", retry=False)
        return Delivery.sent()

    def _build(self, message: Message, config: EmailConfig) -> EmailMultiAlternatives:
        subject, text, html = render_text(message)
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or self.timeout_s
        mail = EmailMultiAlternatives(
            subject,
            text,
            settings.DEFAULT_FROM_EMAIL,
            to=list(config.addresses),
            headers=_headers(message),
            connection=get_connection(timeout=min(timeout, self.timeout_s)),
        )
        mail.attach_alternative(html, "text/html")
        return mail


def _headers(message: Message) -> dict[str, str]:
    return {
        "X-Opsboard-Delivery": message.delivery_id,
        "X-Opsboard-Incident": message.incident_id,
        # Out-of-office replies and the like are not to answer an automatic message (RFC 3834).
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }


def smtp_failure(exc: smtplib.SMTPException) -> Delivery:
    """An SMTP error in words, retried when the server's code says the refusal is temporary."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        answers = "; ".join(f"{rcpt}: {code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items())
        return Delivery.failed(f"the mail server refused the recipients: {answers}", retry=_temporary(codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        error = f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
        return Delivery.failed(error, retry=_temporary([exc.smtp_code]))
    return Delivery.failed(f"mail failed: {type(exc).__name__}: {exc}", retry=True)


def _temporary(codes: list[int]) -> bool:
    return bool(codes) and all(400 <= code < 500 for code in codes)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
