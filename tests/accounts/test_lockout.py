"""Lockout after repeated failed sign-ins (django-axes, by user name and address), the
lockout page, its audit events, and the Admin's unlock."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from opsboard.audit.models import AuditEvent
from opsboard.audit.services import client_ip
from opsboard.env import ConfigError
from tests.conftest import PASSWORD, client_for

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "opsboard" / "settings.py"


def sign_in(username: str, password: str, address: str = "10.0.0.1", **headers: str):
    return Client().post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def fail(username: str, times: int, address: str = "10.0.0.1", **headers: str) -> list[int]:
    return [sign_in(username, "wrong", address, **headers).status_code for _ in range(times)]


def actions(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_the_fifth_wrong_password_locks_out_with_429(viewer) -> None:
    assert fail(viewer.username, 4) == [200] * 4
    response = sign_in(viewer.username, "wrong")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert b"Signing in is paused" in response.content
    assert b"Try again in 15 minutes" in response.content
    assert actions("auth.login_failed") == 5
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.object_repr == viewer.username
    assert lockout.actor_ip == "10.0.0.1"
    assert lockout.changes == {"failure_limit": 5, "cool_off_minutes": 15}


def test_while_locked_out_the_right_password_is_refused_unchecked(viewer) -> None:
    fail(viewer.username, 5)
    response = sign_in(viewer.username, PASSWORD)
    assert response.status_code == 429
    assert actions("auth.login") == 0
    assert actions("auth.login_failed") == 5  # the password of a refused sign-in is never checked
    assert actions("auth.lockout") == 2


def test_a_lockout_holds_only_for_that_user_name_and_address(viewer, editor) -> None:
    fail(viewer.username, 5, address="10.0.0.1")
    assert sign_in(viewer.username, PASSWORD, address="10.0.0.2").status_code == 302
    assert sign_in(editor.username, PASSWORD, address="10.0.0.1").status_code == 302
    assert sign_in(viewer.username, PASSWORD, address="10.0.0.1").status_code == 429


def test_a_lockout_ends_after_the_cool_off(viewer) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(viewer.username, 5)
        clock.shift(timedelta(minutes=14))
        assert sign_in(viewer.username, PASSWORD).status_code == 429  # and the wait starts again
        clock.shift(timedelta(minutes=14))
        assert sign_in(viewer.username, PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=15, seconds=1))
        assert sign_in(viewer.username, PASSWORD).status_code == 302


def test_a_successful_sign_in_forgets_earlier_failures(viewer) -> None:
    fail(viewer.username, 4)
    assert sign_in(viewer.username, PASSWORD).status_code == 302
    assert fail(viewer.username, 4) == [200] * 4
    assert sign_in(viewer.username, "wrong").status_code == 429


def test_the_forwarded_address_counts_behind_a_trusted_proxy(settings, viewer) -> None:
    settings.TRUST_X_FORWARDED_FOR = True
    fail(viewer.username, 5, address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert sign_in(viewer.username, PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302
    assert sign_in(viewer.username, PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert AuditEvent.objects.filter(action="auth.lockout", actor_ip="203.0.113.5").count() == 2


def test_entries_the_client_put_before_the_proxys_do_not_escape_the_count(settings, viewer) -> None:
    """The proxy appends the address it saw; what comes before it is the client's to choose."""
    settings.TRUST_X_FORWARDED_FOR = True
    for n in range(5):
        sign_in(viewer.username, "wrong", "127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5")
    assert (
        sign_in(viewer.username, PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.5").status_code
        == 429
    )


def test_a_forwarded_value_that_is_no_address_falls_back_to_the_connections(settings) -> None:
    settings.TRUST_X_FORWARDED_FOR = True
    factory = RequestFactory()
    assert client_ip(factory.post("/login/", HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.5")) == "203.0.113.5"
    assert client_ip(factory.post("/login/", HTTP_X_FORWARDED_FOR="unknown")) == "127.0.0.1"
    assert client_ip(factory.post("/login/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="x")) is None


def test_a_failed_sign_in_with_a_malformed_forwarded_header_is_audited(settings, viewer) -> None:
    settings.TRUST_X_FORWARDED_FOR = True
    assert sign_in(viewer.username, "wrong", "127.0.0.1", HTTP_X_FORWARDED_FOR="unknown").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_ip="127.0.0.1").count() == 1


def test_the_forwarded_address_is_ignored_without_a_trusted_proxy(viewer) -> None:
    fail(viewer.username, 5, address="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert sign_in(viewer.username, PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 429


def test_an_admin_sees_the_lockout_and_unlocks_it(admin_client, viewer) -> None:
    fail(viewer.username, 5, address="10.0.0.1")
    fail(viewer.username, 5, address="10.0.0.2")
    page = admin_client.get(reverse("accounts:users")).content.decode()
    assert "locked out</strong> until" in page
    assert reverse("accounts:user_unlock", args=[viewer.uid]) in page
    response = admin_client.post(reverse("accounts:user_unlock", args=[viewer.uid]))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.unlock")
    assert event.object_id == str(viewer.uid)
    assert event.changes == {"failure_records_cleared": 2}
    assert sign_in(viewer.username, PASSWORD, address="10.0.0.1").status_code == 302
    assert sign_in(viewer.username, PASSWORD, address="10.0.0.2").status_code == 302
    assert "locked out</strong>" not in admin_client.get(reverse("accounts:users")).content.decode()


def test_only_admins_unlock(editor, viewer) -> None:
    fail(viewer.username, 5)
    assert client_for(editor).post(reverse("accounts:user_unlock", args=[viewer.uid])).status_code == 403
    assert client_for(None).post(reverse("accounts:user_unlock", args=[viewer.uid])).status_code == 302
    assert client_for(viewer).get(reverse("accounts:user_unlock", args=[viewer.uid])).status_code == 403
    assert actions("auth.unlock") == 0
    assert sign_in(viewer.username, PASSWORD).status_code == 429


def settings_under(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    """The settings module's values, read afresh under these environment variables."""
    for name in ("LOGIN_FAILURE_LIMIT", "LOGIN_LOCKOUT_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_limit_and_cool_off_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = settings_under(monkeypatch)
    assert (defaults["AXES_FAILURE_LIMIT"], defaults["AXES_COOLOFF_TIME"]) == (5, timedelta(minutes=15))
    configured = settings_under(monkeypatch, LOGIN_FAILURE_LIMIT="3", LOGIN_LOCKOUT_MINUTES="2")
    assert (configured["AXES_FAILURE_LIMIT"], configured["AXES_COOLOFF_TIME"]) == (3, timedelta(minutes=2))
    with pytest.raises(ConfigError, match="LOGIN_FAILURE_LIMIT='five' is not a whole number"):
        settings_under(monkeypatch, LOGIN_FAILURE_LIMIT="five")
    with pytest.raises(ConfigError, match="LOGIN_LOCKOUT_MINUTES=0 is below the minimum of 1"):
        settings_under(monkeypatch, LOGIN_LOCKOUT_MINUTES="0")
