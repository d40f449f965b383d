"""One-click links in notifications: act once as their recipient, audited like a click in
the UI; refused when tampered with, expired or used before; a prefetch does not act."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from alerts.delivery import message_for
from alerts.links import make_link
from alerts.models import Incident, Notification
from opsboard.audit.models import AuditEvent
from tests.alerts.incident_kit import fire, make_policy, make_rule, webhook_contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responder) -> Incident:
    webhook_contact(responder, "http://127.0.0.1:9/rosa")
    make_policy(responder)
    return fire(make_rule())


def path_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_the_acknowledge_link_in_a_page_acknowledges_as_its_recipient(incident, responder) -> None:
    message = message_for(Notification.objects.get(incident=incident))
    response = Client(REMOTE_ADDR="10.1.1.1").get(path_of(message.ack_url))
    assert response.status_code == 200
    assert b"acknowledged" in response.content
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Incident.ACKNOWLEDGED, responder)
    event = incident.events.get(kind="acknowledged")
    assert event.actor == responder and event.data["via"] == "link (webhook)"
    audit = AuditEvent.objects.get(action="incident.acknowledge")
    assert (audit.actor, audit.actor_ip) == (responder, "10.1.1.1")


def test_the_resolve_link_resolves(incident, responder) -> None:
    message = message_for(Notification.objects.get(incident=incident))
    assert Client().get(path_of(message.resolve_url)).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.RESOLVED and incident.events.get(kind="resolved").actor == responder


def test_a_link_works_once(incident, responder) -> None:
    url = path_of(make_link(incident, "ack", responder, "email"))
    assert Client().get(url).status_code == 200
    again = Client().get(url)
    assert again.status_code == 409
    assert b"used already" in again.content
    assert AuditEvent.objects.filter(action="incident.acknowledge").count() == 1


def test_a_tampered_link_is_refused(incident, responder) -> None:
    url = path_of(make_link(incident, "ack", responder, "email"))
    token = url.rsplit("/", 1)[1]
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token.replace(":", "x", 1), "nonsense"):
        response = Client().get(f"/i/{forged}")
        assert response.status_code == 403, forged
        assert b"not valid" in response.content
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED


def test_an_expired_link_is_refused(incident, responder, settings) -> None:
    settings.ACK_LINK_MAX_AGE_S = 3600
    url = path_of(make_link(incident, "ack", responder, "email"))
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=5)):
        response = Client().get(url)
    assert response.status_code == 410
    assert b"expired" in response.content
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED


def test_a_link_of_a_deactivated_person_is_refused(incident, responder) -> None:
    url = path_of(make_link(incident, "ack", responder, "email"))
    responder.is_active = False
    responder.save()
    assert Client().get(url).status_code == 403


def test_a_prefetch_shows_the_page_without_acting(incident, responder) -> None:
    url = path_of(make_link(incident, "ack", responder, "email"))
    assert Client(HTTP_SEC_PURPOSE="prefetch").get(url).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.TRIGGERED
    assert Client().get(url).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.ACKNOWLEDGED


def test_an_acknowledge_link_after_resolution_changes_nothing(incident, responder) -> None:
    url = path_of(make_link(incident, "ack", responder, "email"))
    Client().get(path_of(make_link(incident, "resolve", responder, "email")))
    response = Client().get(url)
    assert response.status_code == 200
    assert b"already resolved" in response.content
    incident.refresh_from_db()
    assert incident.status == Incident.RESOLVED


def test_pages_of_resolved_incidents_carry_no_links(incident, responder) -> None:
    Incident.objects.filter(pk=incident.pk).update(status=Incident.RESOLVED)
    message = message_for(Notification.objects.get(incident=incident))
    assert message.ack_url is None and message.resolve_url is None
