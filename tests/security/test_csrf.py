"""CSRF: every route refuses a POST that carries a valid session but no CSRF token, and
changes nothing; only the token-authenticated API and the signed webhook receiver are
exempt from Django's check, and the API checks CSRF itself for browser sessions.

Routes are enumerated from the URL configuration with real objects behind their ids, so a
route added later is covered (and one whose ids this file cannot fill fails, asking for it).
"""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, reverse
from rest_framework.authentication import SessionAuthentication

from alerts.models import Incident, Silence
from opsboard.accounts.authentication import BearerTokenAuthentication
from opsboard.accounts.models import User
from tests.security.routes import is_api, routes, rows, url_of
from tests.security.world import World, build_world

# The only views Django's CSRF check skips besides the API: authenticated by an HMAC signature.
EXEMPT_PAGES = {"alerts:receiver_post"}


def refused_for_csrf(pattern: URLPattern, response: HttpResponse) -> bool:
    status, body = response.status_code, response.content
    if not is_api(pattern):
        return status == 403 and b"CSRF verification failed" in body
    view = pattern.callback.cls
    if SessionAuthentication not in view.authentication_classes:
        return status == 401  # token-only endpoints never act on a session
    if response["Content-Type"].startswith("text/html"):
        return status == 403  # the docs page renders DRF's refusal as the 403 page
    return status == 403 and b"CSRF Failed" in body


@pytest.fixture
def world(admin: User) -> World:
    return build_world(admin, text="csrf")


def test_every_route_refuses_a_post_without_a_csrf_token(admin: User, world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    wrong = []
    for name, pattern in routes():
        if name in EXEMPT_PAGES:
            continue
        before = rows()
        response = client.post(url_of(name, pattern, world), {"name": "changed", "comment": "changed"})
        if not refused_for_csrf(pattern, response):
            wrong.append(f"{name}: {response.status_code} {response.content[:120]!r}")
        elif rows() != before:
            wrong.append(f"{name}: refused, but the database changed")
    assert wrong == []


def test_only_the_api_and_the_signed_receiver_skip_djangos_check() -> None:
    exempt = {name for name, pattern in routes() if getattr(pattern.callback, "csrf_exempt", False)}
    api = {name for name, pattern in routes() if is_api(pattern)}
    assert exempt - api == EXEMPT_PAGES
    assert api <= exempt  # DRF's views are exempt; SessionAuthentication checks CSRF itself


def test_api_views_take_only_tokens_or_csrf_checked_sessions() -> None:
    allowed = {BearerTokenAuthentication, SessionAuthentication}
    for name, pattern in routes():
        if is_api(pattern):
            assert set(pattern.callback.cls.authentication_classes) <= allowed, name


def csrf_token(client: Client, page: str) -> str:
    client.get(page)
    return client.cookies["csrftoken"].value


def test_the_same_post_with_a_token_is_accepted(admin: User, world: World) -> None:
    """The control: with its token, a form post and a session API call both go through."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    token = csrf_token(client, reverse("alerts:silences"))
    response = client.post(reverse("alerts:silence_expire", args=[world.silence.uid]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Silence.objects.get(pk=world.silence.pk).expired_at is not None
    ack = reverse("api:incident_ack", args=[world.incident.uid])
    assert client.post(ack, {}, headers={"X-CSRFToken": token}).status_code == 200
    assert Incident.objects.get(pk=world.incident.pk).status == Incident.ACKNOWLEDGED
