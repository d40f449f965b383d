"""Fixtures of the fuzz suite; its Hypothesis profiles live in ``tests.fuzz.profiles``."""

from __future__ import annotations

import pytest

from opsboard.accounts import services
from opsboard.accounts.models import User
from opsboard.audit.services import Actor
from tests.fuzz import profiles  # noqa: F401  (registers the profiles)


@pytest.fixture
def admin_token(admin: User) -> str:
    """An Admin's token with every scope."""
    return services.create_token(user=admin, name="fuzz", scopes=["ingest", "read", "write"], by=Actor.system("test"))[
        1
    ]
