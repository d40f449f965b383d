"""System checks for configuration that parses but cannot work. IDs are stable."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_redis_url(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    scheme = urlparse(settings.REDIS_URL).scheme
    if scheme not in {"redis", "rediss", "unix"}:
        return [Error(f"REDIS_URL has scheme {scheme!r}", hint="Use redis://host:port/db", id="opsboard.E001")]
    return []


@register()
def check_database_engine(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        return [Error(f"DATABASE_URL selects {engine}", hint="Use postgres:// or sqlite:///", id="opsboard.E002")]
    return []


@register(deploy=True)
def check_production_database(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        return [
            Warning(
                "SQLite serves one machine; several workers or ASGI servers need PostgreSQL",
                hint="Set DATABASE_URL=postgres://…",
                id="opsboard.W001",
            )
        ]
    return []
