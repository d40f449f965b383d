"""Shared fixtures: the cast of users, one per role, and the settings every test runs under."""

from __future__ import annotations

import multiprocessing

import pytest
from django.conf import settings
from django.test import Client

from monitoring import store
from opsboard.accounts import roles
from opsboard.accounts.models import Role, User
from opsboard.redis_client import redis_client
from tests.alerts import incident_kit

TEST_PREFIX = "opsboard-test"


def pytest_configure(config: pytest.Config) -> None:
    # Browser tests fork a live server; forking after async ORM use hangs its WebSockets.
    multiprocessing.set_start_method("spawn", force=True)
    # Keys, queues and channel groups apart from a development server on the same Redis.
    settings.REDIS_KEY_PREFIX = TEST_PREFIX
    settings.CACHES["default"]["KEY_PREFIX"] = TEST_PREFIX
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{TEST_PREFIX}:channels"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    """Each test empties the tables it wrote (rollback or flush); caches and counters follow."""
    store.forget_cached_series()
    incident_kit.reset_clock()
    client = redis_client()
    keys = list(client.scan_iter(f"{TEST_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


PASSWORD = "correct horse battery staple"


def ensure_roles() -> None:
    """The roles come from a data migration; a transactional test's flush removes them."""
    for slug in roles.LADDER:
        Role.objects.get_or_create(slug=slug, defaults={"name": slug.capitalize(), "description": slug})


def make_user(username: str, role: str | None) -> User:
    ensure_roles()
    user = User(username=username, email=f"{username}@example.test", role_id=role)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def cast(db: None) -> dict[str | None, User]:
    """One user per role, and an outsider (signed in, no role), keyed by role (None: outsider)."""
    return {
        roles.ADMIN: make_user("ada", roles.ADMIN),
        roles.EDITOR: make_user("eddie", roles.EDITOR),
        roles.RESPONDER: make_user("rosa", roles.RESPONDER),
        roles.VIEWER: make_user("vic", roles.VIEWER),
        None: make_user("otto", None),
    }


@pytest.fixture
def admin(cast: dict[str | None, User]) -> User:
    return cast[roles.ADMIN]


@pytest.fixture
def editor(cast: dict[str | None, User]) -> User:
    return cast[roles.EDITOR]


@pytest.fixture
def responder(cast: dict[str | None, User]) -> User:
    return cast[roles.RESPONDER]


@pytest.fixture
def viewer(cast: dict[str | None, User]) -> User:
    return cast[roles.VIEWER]


@pytest.fixture
def outsider(cast: dict[str | None, User]) -> User:
    return cast[None]


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin: User) -> Client:
    return client_for(admin)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return client_for(viewer)
