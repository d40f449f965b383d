"""Sign-in and sign-out, each audited."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from opsboard.audit.models import AuditEvent
from tests.conftest import PASSWORD, client_for


def test_login_page_renders_for_anyone(db) -> None:
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_successful_login_is_audited_and_lands_on_overview(viewer) -> None:
    client = Client()
    response = client.post(reverse("login"), {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("overview")
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == viewer
    assert event.actor_ip == "127.0.0.1"
    viewer.refresh_from_db()
    assert viewer.last_login is not None


def test_failed_login_is_audited_with_the_name_tried(viewer) -> None:
    response = Client().post(reverse("login"), {"username": viewer.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None
    assert event.object_repr == viewer.username


def test_logout_is_audited_and_needs_post(viewer) -> None:
    client = client_for(viewer)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", actor=viewer).exists()
    assert client.get(reverse("overview")).status_code == 302
