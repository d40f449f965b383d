"""The navigation bar: each entry with the role it needs. Entries a user may not use are
not shown; the views refuse them anyway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from opsboard.accounts import roles
from opsboard.accounts.permissions import has_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    role: str


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Overview", "overview", roles.VIEWER),
    NavItem("Models", "monitoring:models", roles.VIEWER),
    NavItem("Nodes", "monitoring:nodes", roles.VIEWER),
    NavItem("Runs", "monitoring:runs", roles.VIEWER),
    NavItem("Explore", "monitoring:explore", roles.VIEWER),
    NavItem("Alerts", "alerts:list", roles.VIEWER),
    NavItem("Audit", "audit:list", roles.ADMIN),
    NavItem("Users", "accounts:users", roles.ADMIN),
    NavItem("Tokens", "accounts:tokens", roles.ADMIN),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    items = []
    for item in NAV_ITEMS:
        if has_role(user, item.role):
            url = reverse(item.url_name)
            current = request.path == url if url == "/" else request.path.startswith(url)
            items.append({"label": item.label, "url": url, "current": current})
    return {"nav_items": items}
