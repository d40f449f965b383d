"""``audit_verify`` walks the chain and names the first event that does not verify."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from opsboard.audit.chain import event_hash
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor, record


def write_events(count: int) -> list[AuditEvent]:
    return [record("thing.touch", by=Actor.system("test"), object_id=str(i)) for i in range(count)]


@contextmanager
def trigger_disabled() -> Iterator[None]:
    """Tamper as a database superuser could: with triggers switched off for the session."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")


def raw(sql: str, params: list) -> None:
    with trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_intact_chain_verifies(db, capsys) -> None:
    write_events(5)
    call_command("audit_verify")
    assert "audit chain verified: 5 events" in capsys.readouterr().out


def test_a_row_changed_by_raw_sql_is_named(db) -> None:
    events = write_events(5)
    raw("UPDATE audit_auditevent SET object_repr = %s WHERE id = %s", ["forged", events[2].pk])
    with pytest.raises(CommandError, match=rf"audit event #{events[2].pk} .* content does not match its hash"):
        call_command("audit_verify")


def test_a_row_deleted_by_raw_sql_is_noticed_at_the_next_one(db) -> None:
    events = write_events(5)
    raw("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=rf"audit event #{events[2].pk} .* previous-hash does not match"):
        call_command("audit_verify")


def test_a_rehashed_forgery_still_breaks_the_link_after_it(db) -> None:
    events = write_events(4)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.object_repr = "forged"
    new_hash = event_hash(forged.hashed_fields(), forged.prev_hash)
    raw("UPDATE audit_auditevent SET object_repr = %s, hash = %s WHERE id = %s", ["forged", new_hash, forged.pk])
    with pytest.raises(CommandError, match=rf"audit event #{events[2].pk} "):
        call_command("audit_verify")
