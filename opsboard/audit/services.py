"""Recording audit events: the only way rows enter the audit log."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from opsboard.audit.chain import GENESIS, event_hash
from opsboard.audit.masking import mask_secrets
from opsboard.audit.models import AuditEvent

if TYPE_CHECKING:
    from django.http import HttpRequest

    from opsboard.accounts.models import User

# Any constant works: it only has to be the same for every writer of the chain.
_CHAIN_LOCK_KEY = 0x0A0D17


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a user from a request, or a named system process."""

    user: User | None
    ip: str | None
    name: str

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        name = user.get_username() if user else "anonymous"
        return cls(user=user, ip=client_ip(request), name=name)

    @classmethod
    def for_user(cls, user: User, ip: str | None = None) -> Actor:
        return cls(user=user, ip=ip, name=user.get_username())

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls(user=None, ip=None, name=f"system:{process}")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the connection's, or behind a trusted proxy the last entry of
    X-Forwarded-For, the one that proxy appended (the entries before it are whatever the
    client sent, so trusting the first would let anyone choose their address). A value that
    is no IP address falls back to the connection's."""
    candidates = [request.META.get("REMOTE_ADDR", "")]
    if settings.TRUST_X_FORWARDED_FOR:
        candidates.insert(0, request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip())
    return next((candidate for candidate in candidates if _is_ip(candidate)), None)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of ``obj``, as JSON-ready values, for before/after changes."""
    values = {}
    for name in fields:
        field = obj._meta.get_field(name)
        values[name] = field.value_from_object(obj) if not field.is_relation else getattr(obj, field.attname)
    return values


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Before/after of only the keys that changed (all keys when one side is missing)."""
    if before is None or after is None:
        return {"before": before, "after": after}
    changed = [key for key in after if before.get(key) != after.get(key)]
    return {"before": {k: before.get(k) for k in changed}, "after": {k: after[k] for k in changed}}


def record(
    action: str,
    *,
    by: Actor,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    Secret values in ``changes`` are masked. The chain is extended under a lock so that
    concurrent writers never fork it: an advisory lock on PostgreSQL; on SQLite every
    write transaction already holds the database's single write lock.
    """
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(getattr(obj, "uid", None) or obj.pk)
        object_repr = object_repr or str(obj)
    if changes is not None:
        changes = _json_ready(mask_secrets(changes))
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            time=timezone.now(),
            actor=by.user,
            actor_name=by.name[:150],
            actor_ip=by.ip,
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            object_repr=str(object_repr)[:200],
            changes=changes,
            prev_hash=last or GENESIS,
        )
        event.hash = event_hash(event.hashed_fields(), event.prev_hash)
        event.save(force_insert=True)
    return event


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def _json_ready(value: dict[str, Any]) -> dict[str, Any]:
    """The value as it will read back from the database, so that its hash still verifies."""
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class ChainBreak:
    """The first event that does not verify, and why."""

    event: AuditEvent
    reason: str


def verify_chain() -> tuple[int, ChainBreak | None]:
    """Walk the whole chain in order; return how many events verified and the first break."""
    expected_prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(event, "its previous-hash does not match the event before it")
        if event_hash(event.hashed_fields(), event.prev_hash) != event.hash:
            return checked, ChainBreak(event, "its content does not match its hash")
        expected_prev = event.hash
        checked += 1
    return checked, None
