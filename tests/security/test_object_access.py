"""Access to objects by id: nobody reads or acts on an object through an id they may not
use, and a refused request changes nothing.

tests/accounts/test_permissions.py proves that every route refuses the roles below it with
made-up ids; here the ids are real (a refusal must not depend on the object not existing),
the database is compared before and after, and the token scopes, revoked tokens and
WebSockets are walked the same way.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, reverse
from rest_framework.permissions import SAFE_METHODS

from alerts.models import ContactMethod
from monitoring.routing import websocket_urlpatterns
from opsboard.accounts import roles, services
from opsboard.accounts.models import ApiToken, User
from opsboard.accounts.permissions import declared_role, declared_write_role
from opsboard.asgi import application
from opsboard.audit.services import Actor
from tests.conftest import client_for, make_user
from tests.security.routes import is_api, routes, rows, url_of
from tests.security.world import World, build_world

SETUP = Actor.system("test")


@pytest.fixture
def world(admin: User) -> World:
    return build_world(admin, text="access")


def token_client(user: User, scopes: list[str]) -> Client:
    _, secret = services.create_token(user=user, name="t", scopes=scopes, by=SETUP)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


# --- Contact methods: one's own only (Admins anyone's) -------------------------------------


@pytest.mark.parametrize("role", [roles.VIEWER, roles.RESPONDER, roles.EDITOR])
def test_someone_elses_contact_method_is_not_found(role: str, cast: dict, world: World) -> None:
    client = client_for(cast[role])
    before = rows()
    assert client.get(reverse("oncall:contact_edit", args=[world.contact.uid])).status_code == 404
    edit = {"kind": "webhook", "webhook-url": "http://127.0.0.1:9/mine"}
    assert client.post(reverse("oncall:contact_edit", args=[world.contact.uid]), edit).status_code == 404
    assert client.post(reverse("oncall:contact_delete", args=[world.contact.uid])).status_code == 404
    assert rows() == before


def test_a_responder_cannot_add_a_contact_method_to_someone_else(responder: User, world: World) -> None:
    posted = {"user": str(world.owner.uid), "kind": "webhook", "webhook-url": "http://127.0.0.1:9/x"}
    response = client_for(responder).post(reverse("oncall:contact"), posted)
    assert response.status_code == 403
    assert not ContactMethod.objects.exclude(pk=world.contact.pk).exists()


# --- Tokens: Admins only, through the pages and the API -------------------------------------


@pytest.mark.parametrize("role", [roles.VIEWER, roles.RESPONDER, roles.EDITOR])
def test_only_admins_read_or_revoke_tokens_through_the_api(role: str, cast: dict, world: World) -> None:
    """Even with a token carrying every scope, another user's token stays out of reach."""
    client, session = token_client(cast[role], list(ApiToken.SCOPES)), client_for(cast[role])
    before = rows()
    assert client.get(reverse("api:tokens")).status_code == 403
    assert client.post(reverse("api:token_revoke", args=[world.token.uid])).status_code == 403
    assert session.post(reverse("accounts:token_revoke", args=[world.token.uid])).status_code == 403
    assert rows() == before


def test_an_admin_revokes_a_token_through_the_api(admin: User, world: World) -> None:
    """The control for the test above."""
    response = token_client(admin, ["write"]).post(reverse("api:token_revoke", args=[world.token.uid]))
    assert response.status_code == 200
    world.token.refresh_from_db()
    assert world.token.revoked_at is not None


# --- Mutations by a Viewer, with real objects -----------------------------------------------


def viewer_refused_routes() -> list[tuple[str, URLPattern]]:
    """Pages and endpoints whose POST needs more than a Viewer."""
    found = []
    for name, pattern in routes():
        needed = declared_write_role(pattern.callback) if is_api(pattern) else declared_role(pattern.callback)
        if roles.rank_of(needed) > roles.rank_of(roles.VIEWER):
            found.append((name, pattern))
    return found


def test_a_viewer_changes_nothing_through_any_mutation_url(viewer: User, world: World) -> None:
    session = client_for(viewer)
    token = token_client(viewer, list(ApiToken.SCOPES))
    wrong = []
    for name, pattern in viewer_refused_routes():
        before = rows()
        client = token if is_api(pattern) else session
        status = client.post(url_of(name, pattern, world), {"comment": "x", "name": "x"}).status_code
        if status != 403 or rows() != before:
            wrong.append(f"{name}: {status}")
    assert len(viewer_refused_routes()) >= 40
    assert wrong == []


def test_a_viewer_posting_to_incident_rule_and_target_actions_gets_403(viewer: User, world: World) -> None:
    """The routes a Viewer would try first, named, so that the walk above cannot skip them."""
    client = client_for(viewer)
    for url in (
        reverse("alerts:incident_action", args=[world.incident.uid, "ack"]),
        reverse("alerts:incident_action", args=[world.incident.uid, "resolve"]),
        reverse("alerts:rule_edit", args=[world.rule.uid]),
        reverse("alerts:rule_delete", args=[world.rule.uid]),
        reverse("monitoring:models_edit", args=[world.model.uid]),
        reverse("monitoring:nodes_delete", args=[world.node.uid]),
    ):
        assert client.post(url, {"comment": "x"}).status_code == 403, url


# --- Token scopes and revoked tokens, over every API route ----------------------------------


def api_cases() -> list[tuple[str, URLPattern, str]]:
    """(route, pattern, method) for every method an API view serves, PUBLIC views left out."""
    cases = []
    for name, pattern in routes():
        view = getattr(pattern.callback, "cls", None)
        if view is None or declared_role(pattern.callback) == roles.PUBLIC:
            continue
        cases += [(name, pattern, method) for method in ("get", "post", "delete") if hasattr(view, method)]
    return cases


def needed_scope(pattern: URLPattern, method: str) -> str:
    view = pattern.callback.cls
    safe = method.upper() in SAFE_METHODS
    if not safe and getattr(view, "write_scope", None):
        return view.write_scope
    return getattr(view, "required_scope", None) or ("read" if safe else "write")


@pytest.mark.parametrize("case", api_cases(), ids=lambda c: f"{c[0]}-{c[2]}")
def test_a_token_without_the_needed_scope_gets_403(case: tuple, admin: User, world: World) -> None:
    """An Admin's token (so only the scope can refuse) holding every scope but the one needed:
    a read token cannot write, an ingest token cannot read, and so on."""
    name, pattern, method = case
    others = [scope for scope in ApiToken.SCOPES if scope != needed_scope(pattern, method)]
    client = token_client(admin, others)
    before = rows()
    response = getattr(client, method)(url_of(name, pattern, world))
    assert response.status_code == 403
    assert rows() == before


@pytest.mark.parametrize("case", api_cases(), ids=lambda c: f"{c[0]}-{c[2]}")
def test_a_revoked_token_gets_401(case: tuple, admin: User, world: World) -> None:
    name, pattern, method = case
    token, secret = services.create_token(user=admin, name="old", scopes=list(ApiToken.SCOPES), by=SETUP)
    services.revoke_token(token, by=SETUP)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert getattr(client, method)(url_of(name, pattern, world)).status_code == 401


def test_a_deactivated_users_token_gets_401(viewer: User, world: World) -> None:
    client = token_client(viewer, list(ApiToken.SCOPES))
    services.set_active(viewer, False, by=SETUP)
    assert client.get(reverse("api:incidents")).status_code == 401


# --- WebSockets ----------------------------------------------------------------------------

SOCKETS = [str(pattern.pattern) for pattern in websocket_urlpatterns]


async def close_code(path: str, headers: list[tuple[bytes, bytes]]) -> int | None:
    """The code a refused socket is closed with (None: the handshake itself was refused)."""
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect()
    if not connected:
        return None
    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message.get("code")


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
async def test_a_socket_without_a_session_is_closed_with_4401(path: str) -> None:
    assert await close_code(f"/{path}", [(b"origin", b"http://localhost")]) == 4401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
async def test_a_deactivated_users_session_is_closed_with_4401(path: str) -> None:
    user = await sync_to_async(make_user)("gone", roles.VIEWER)
    cookie = await sync_to_async(session_cookie)(user)
    await sync_to_async(services.set_active)(user, False, by=SETUP)
    assert await close_code(f"/{path}", [(b"origin", b"http://localhost"), (b"cookie", cookie)]) == 4401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
async def test_a_socket_from_another_origin_is_refused_even_with_a_session(path: str) -> None:
    """Cross-site WebSocket hijacking: the browser sends the victim's cookie from any page."""
    user = await sync_to_async(make_user)("ada", roles.ADMIN)
    cookie = await sync_to_async(session_cookie)(user)
    assert await close_code(f"/{path}", [(b"origin", b"https://evil.example"), (b"cookie", cookie)]) is None
