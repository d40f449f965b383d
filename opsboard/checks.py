"""System checks for configuration that parses but cannot work. IDs are stable."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Warning, register

from opsboard import crypto


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


@register()
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Malformed keys stop everything that reads a secret; no key in production leans on SECRET_KEY."""
    problems = crypto.key_problems(crypto.configured_keys())
    if problems:
        return [Error(problem, hint="Fix or remove that item", id="opsboard.E003") for problem in problems]
    if not settings.DEBUG and not crypto.configured_keys():
        return [
            Warning(
                "OPSBOARD_ENCRYPTION_KEYS is not set: secrets in the database are encrypted with a key derived "
                "from SECRET_KEY, so whoever reads SECRET_KEY can read them, and changing it makes them unreadable",
                hint="Set OPSBOARD_ENCRYPTION_KEYS to a key of its own (python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'), then run manage.py rotate_encryption_keys",
                id="opsboard.W002",
            )
        ]
    return []
