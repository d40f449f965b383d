"""Every page and endpoint declares a role, and every role below it is refused.

The cases are enumerated from the URL configuration, so a view added later is covered
without touching this file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from rest_framework.views import APIView

from opsboard.accounts import roles, services
from opsboard.accounts.models import ApiToken, User
from opsboard.accounts.permissions import declared_role, declared_write_role
from opsboard.audit.services import Actor
from tests.conftest import client_for

SAMPLE_VALUES = {"UUIDConverter": uuid.UUID(int=1), "IntConverter": 1}


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    role: str | None
    write_role: str | None
    is_api: bool
    has_params: bool


def _walk(patterns: list, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def _url(name: str, pattern: URLPattern) -> str:
    kwargs = {
        key: SAMPLE_VALUES.get(type(converter).__name__, "x") for key, converter in pattern.pattern.converters.items()
    }
    return reverse(name, kwargs=kwargs)


def all_routes() -> list[Route]:
    routes = []
    for name, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        routes.append(
            Route(
                name=name,
                url=_url(name, pattern),
                role=declared_role(callback),
                write_role=declared_write_role(callback),
                is_api=getattr(callback, "cls", None) is not None,
                has_params=bool(pattern.pattern.converters),
            )
        )
    return routes


ROUTES = all_routes()
GUARDED = [route for route in ROUTES if route.role in roles.RANKS]


def refusal_cases(method: str) -> list[tuple[Route, str | None]]:
    cases = []
    for route in GUARDED:
        needed = route.role if method == "get" else route.write_role
        cases += [(route, held) for held in roles.below(needed)]
    return cases


def _case_id(case: tuple[Route, str | None]) -> str:
    route, held = case
    return f"{route.name}-as-{held or 'no-role'}"


def test_every_route_declares_a_role() -> None:
    undeclared = [route.name for route in ROUTES if route.role is None]
    assert undeclared == []
    assert len(GUARDED) >= 10


def caller(route: Route, user: User) -> Client:
    """A browser session for pages; for the API, a token with every scope (some endpoints
    take tokens only), so that only the role can be what refuses."""
    if not route.is_api:
        return client_for(user)
    _, secret = services.create_token(user=user, name="all", scopes=list(ApiToken.SCOPES), by=Actor.system("test"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.mark.parametrize("case", refusal_cases("get"), ids=_case_id)
def test_lower_role_gets_403_on_get(case: tuple[Route, str | None], cast: dict[str | None, User]) -> None:
    route, held = case
    assert caller(route, cast[held]).get(route.url).status_code == 403


@pytest.mark.parametrize("case", refusal_cases("post"), ids=_case_id)
def test_lower_role_gets_403_on_post(case: tuple[Route, str | None], cast: dict[str | None, User]) -> None:
    route, held = case
    assert caller(route, cast[held]).post(route.url, {}).status_code == 403


@pytest.mark.parametrize("route", GUARDED, ids=lambda route: route.name)
def test_anonymous_is_sent_to_sign_in(route: Route, db: None) -> None:
    response = client_for(None).get(route.url)
    if route.is_api:
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("route", [r for r in GUARDED if not r.is_api and not r.has_params], ids=lambda r: r.name)
def test_the_role_itself_is_let_in(route: Route, cast: dict[str | None, User]) -> None:
    response = client_for(cast[route.role]).get(route.url)
    assert response.status_code in {200, 302, 405}


def undeclared_view(request: object) -> HttpResponse:
    return HttpResponse("open")


class UndeclaredApiView(APIView):
    def get(self, request: object) -> HttpResponse:
        return HttpResponse("open")


urlpatterns = [
    path("undeclared/", undeclared_view, name="undeclared"),
    path("undeclared-api/", UndeclaredApiView.as_view(), name="undeclared_api"),
]


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("url", ["/undeclared/", "/undeclared-api/"])
def test_a_view_that_declares_no_role_is_closed_even_to_admins(url: str, admin: User) -> None:
    assert client_for(admin).get(url).status_code == 403
