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
    NavItem("Incidents", "alerts:incidents", roles.VIEWER),
    NavItem("On-call", "oncall:index", roles.VIEWER),
    NavItem("Audit", "audit:list", roles.ADMIN),
    NavItem("Users", "accounts:users", roles.ADMIN),
    NavItem("Tokens", "accounts:tokens", roles.ADMIN),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    items: list[dict[str, Any]] = []
    for item in NAV_ITEMS:
        if has_role(user, item.role):
            url = reverse(item.url_name)
            current = request.path == url if url == "/" else request.path.startswith(url)
            items.append({"label": item.label, "url": url, "current": current})
    counts = {"Incidents": _open_incidents()} if has_role(user, roles.VIEWER) else {}
    for item in items:
        item["count"] = counts.get(item["label"])
    return {"nav_items": items}


def _open_incidents() -> int:
    from alerts.live import open_count  # the navigation is built before apps' urls are known

    return open_count()
