"""The routes of the URL configuration, filled with the ids of a World's objects, and a
snapshot of every table, to show that a refused request changed nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.world import World

# Route name → the World object whose uid fills its <uuid:uid>.
OWNERS = [
    (r"^alerts:rule", "rule"),
    (r"^alerts:silence", "silence"),
    (r"^alerts:(incident|receiver_post)", "incident"),
    (r"^oncall:(schedule|layer|override)", "schedule"),
    (r"^oncall:(policy|step)", "policy"),
    (r"^oncall:channel", "channel"),
    (r"^oncall:contact", "contact"),
    (r"^accounts:user", "member"),
    (r"^accounts:token", "token"),
    (r"^monitoring:models", "model"),
    (r"^monitoring:nodes", "node"),
    (r"^monitoring:run", "run"),
    (r"^api:model$", "model"),
    (r"^api:node$", "node"),
    (r"^api:run", "run"),
    (r"^api:rule$", "rule"),
    (r"^api:silence", "silence"),
    (r"^api:incident", "incident"),
    (r"^api:token", "token"),
]
OTHER_PARAMS = {"position": 0, "number": 1, "action": "ack", "token": "not-a-signed-token", "name": "job"}


def routes(patterns: list | None = None, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def is_api(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "cls", None) is not None


def url_of(name: str, pattern: URLPattern, world: World) -> str:
    kwargs: dict[str, Any] = {}
    for key in pattern.pattern.converters:
        if key == "uid":
            owner = next((attr for regex, attr in OWNERS if re.search(regex, name)), None)
            assert owner is not None, f"add the object behind {name}'s <uid> to OWNERS"
            kwargs[key] = getattr(world, owner).uid
        elif key == "override":
            kwargs[key] = world.override.uid
        else:
            kwargs[key] = OTHER_PARAMS[key]
    return reverse(name, kwargs=kwargs)


# Columns a refused request may still change: a token that authenticated records its use.
VOLATILE = {"accounts.ApiToken": {"last_used_at"}}


def rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table Opsboard manages, to show that a refused request changed nothing."""
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    return {m._meta.label: _values(m) for m in models}


def _values(model: Any) -> list[dict[str, Any]]:
    skip = VOLATILE.get(model._meta.label, set())
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
    return list(model._base_manager.order_by("pk").values(*fields))
