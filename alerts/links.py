"""Signed one-click links in notifications: acknowledge or resolve as the recipient.

A link carries the incident, the action, the recipient (a user, or none for a shared
channel) and a random nonce, signed with the secret key and timestamped: it is refused
when tampered with, older than ACK_LINK_MAX_AGE_S, or used before (its digest is kept).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from alerts.models import Incident, UsedLink
from opsboard.accounts.models import User

SALT = "opsboard.incident-link"
ACTIONS = ("ack", "resolve")


class LinkRefused(Exception):
    """The link cannot be used; the message says why, for the page that shows it."""


@dataclass(frozen=True)
class LinkUse:
    incident: Incident
    action: str
    user: User | None
    via: str


def make_link(incident: Incident, action: str, user: User | None, via: str) -> str:
    """An absolute URL that performs ``action`` on ``incident`` once."""
    payload = {
        "i": str(incident.uid),
        "a": action,
        "u": str(user.uid) if user else None,
        "v": via,
        "n": secrets.token_hex(8),
    }
    token = signing.dumps(payload, salt=SALT, compress=True)
    return settings.OPSBOARD_BASE_URL.rstrip("/") + reverse("alerts:incident_link", args=[token])


def read_link(token: str) -> LinkUse:
    """Check a link without using it (for the page that confirms what it will do)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.ACK_LINK_MAX_AGE_S)
    except signing.SignatureExpired:
        raise LinkRefused("This link has expired; open the incident in Opsboard instead.") from None
    except signing.BadSignature:
        raise LinkRefused("This link is not valid.") from None
    if payload.get("a") not in ACTIONS:
        raise LinkRefused("This link is not valid.")
    incident = Incident.objects.filter(uid=payload["i"]).first()
    if incident is None:
        raise LinkRefused("The incident of this link no longer exists.")
    user = User.objects.filter(uid=payload["u"], is_active=True).first() if payload.get("u") else None
    if payload.get("u") and user is None:
        raise LinkRefused("The person this link was sent to can no longer act in Opsboard.")
    return LinkUse(incident, payload["a"], user, payload.get("v") or "link")


def spend_link(token: str) -> LinkUse:
    """Read and mark the link used, in the caller's transaction; a second use is refused."""
    use = read_link(token)
    try:
        with transaction.atomic():
            UsedLink.objects.create(digest=hashlib.sha256(token.encode()).hexdigest())
    except IntegrityError:
        raise LinkRefused("This link was used already; each link works once.") from None
    return use
