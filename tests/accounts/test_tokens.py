"""API tokens: shown once, stored as a digest, scoped, revocable, audited."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from opsboard.accounts import services
from opsboard.accounts.models import ApiToken
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def make_token(user, scopes: list[str]) -> str:
    _, secret = services.create_token(user=user, name="t", scopes=scopes, by=Actor.system("test"))
    return secret


def test_token_created_in_the_ui_is_shown_once_and_stored_as_digest(admin_client, viewer) -> None:
    response = admin_client.post(
        reverse("accounts:token_create"), {"name": "ci", "user": viewer.username, "scopes": ["read", "ingest"]}
    )
    assert response.status_code == 201
    secret = response.context["secret"]
    token = ApiToken.objects.get(name="ci")
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == ["ingest", "read"]
    assert secret not in admin_client.get(reverse("accounts:tokens")).content.decode()
    assert token.prefix in admin_client.get(reverse("accounts:tokens")).content.decode()
    event = AuditEvent.objects.get(action="token.create")
    assert secret not in str(event.changes)


def test_token_create_without_scopes_names_the_field(admin_client, viewer) -> None:
    response = admin_client.post(reverse("accounts:token_create"), {"name": "x", "user": viewer.username})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_bearer_token_authenticates_as_its_user(viewer) -> None:
    secret = make_token(viewer, ["read"])
    response = Client().get("/api/v1/me", **bearer(secret))
    assert response.status_code == 200
    assert response.json() == {"username": viewer.username, "role": "viewer", "token_scopes": ["read"]}


def test_last_use_is_recorded(viewer) -> None:
    secret = make_token(viewer, ["read"])
    Client().get("/api/v1/me", **bearer(secret))
    assert ApiToken.objects.get().last_used_at is not None


def test_read_token_cannot_write_even_for_an_admin(admin, viewer) -> None:
    secret = make_token(admin, ["read"])
    response = Client().post(
        "/api/v1/tokens",
        {"name": "x", "user": viewer.username, "scopes": ["read"]},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 403
    assert not ApiToken.objects.filter(name="x").exists()


def test_ingest_token_cannot_read(admin) -> None:
    secret = make_token(admin, ["ingest"])
    assert Client().get("/api/v1/audit", **bearer(secret)).status_code == 403


def test_token_never_exceeds_its_users_role(viewer) -> None:
    secret = make_token(viewer, ["read", "write"])
    assert Client().get("/api/v1/audit", **bearer(secret)).status_code == 403


def test_write_token_of_an_admin_creates_a_token_over_the_api(admin, viewer) -> None:
    secret = make_token(admin, ["read", "write"])
    response = Client().post(
        "/api/v1/tokens",
        {"name": "x", "user": viewer.username, "scopes": ["ingest"]},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("opsb_")
    assert Client().get("/api/v1/me", **bearer(body["token"])).status_code == 403  # ingest only


@pytest.mark.parametrize(
    "header", ["Bearer opsb_unknown", "Bearer", "Bearer a b"], ids=["unknown", "missing", "spaces"]
)
def test_bad_bearer_headers_get_401(header: str, db) -> None:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_revoked_token_is_refused_and_revocation_audited(admin_client, viewer) -> None:
    secret = make_token(viewer, ["read"])
    token = ApiToken.objects.get()
    assert admin_client.post(reverse("accounts:token_revoke", args=[token.uid])).status_code == 302
    assert Client().get("/api/v1/me", **bearer(secret)).status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke", object_id=str(token.uid)).exists()


def test_token_of_a_deactivated_user_is_refused(viewer) -> None:
    secret = make_token(viewer, ["read"])
    services.set_active(viewer, False, by=Actor.system("test"))
    assert Client().get("/api/v1/me", **bearer(secret)).status_code == 401


def test_create_token_command_prints_the_token_once(viewer, capsys) -> None:
    call_command("create_token", "--user", viewer.username, "--scopes", "ingest,read")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert token.scopes == ["ingest", "read"]
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert AuditEvent.objects.get(action="token.create").actor_name == "system:create_token"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--user", "nobody", "--scopes", "read"], "no active user"), (["--user", "vic", "--scopes", "root"], "scopes")],
)
def test_create_token_command_refuses_bad_input(args: list[str], message: str, viewer) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("create_token", *args)
