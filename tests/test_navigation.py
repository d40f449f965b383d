"""The navigation shows each role what it may use, and nothing more."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsboard.accounts import roles
from opsboard.accounts.permissions import has_role
from opsboard.navigation import NAV_ITEMS
from tests.conftest import client_for


@pytest.mark.parametrize("role", roles.LADDER)
def test_navigation_shows_only_what_the_role_may_open(role: str, cast) -> None:
    response = client_for(cast[role]).get(reverse("accounts:password"))
    shown = {item["label"] for item in response.context["nav_items"]}
    assert shown == {item.label for item in NAV_ITEMS if has_role(cast[role], item.role)}
    for item in NAV_ITEMS:
        status = client_for(cast[role]).get(reverse(item.url_name)).status_code
        assert (status == 200) == (item.label in shown)
