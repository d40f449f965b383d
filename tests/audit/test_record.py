"""The audit log: one chain, append-only, secrets masked."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, close_old_connections, connection, transaction

from opsboard.audit.chain import GENESIS, event_hash
from opsboard.audit.masking import MASK
from opsboard.audit.models import AppendOnlyError, AuditEvent
from opsboard.audit.services import Actor, diff, record


def test_events_form_a_chain(db) -> None:
    first = record("thing.create", by=Actor.system("test"), object_type="thing", object_id="1")
    second = record("thing.update", by=Actor.system("test"), object_type="thing", object_id="1")
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(pk=second.pk)
    assert event_hash(stored.hashed_fields(), stored.prev_hash) == stored.hash


def test_the_event_is_part_of_the_callers_transaction(db) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        record("thing.create", by=Actor.system("test"))
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()


def test_secrets_are_masked_at_any_depth(db) -> None:
    changes = diff(None, {"name": "hook", "webhook_url": "https://x/T0KEN", "config": {"password": "p", "port": 25}})
    event = record("channel.create", by=Actor.system("test"), changes=changes)
    assert event.changes["after"] == {"name": "hook", "webhook_url": MASK, "config": {"password": MASK, "port": 25}}


def test_diff_keeps_only_what_changed() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"before": {"b": 2}, "after": {"b": 3}}


def test_the_orm_refuses_to_change_or_delete_events(db) -> None:
    event = record("thing.create", by=Actor.system("test"))
    event.action = "forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET action = 'forged'", "DELETE FROM audit_auditevent"])
def test_postgresql_refuses_raw_update_and_delete(statement: str, db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    record("thing.create", by=Actor.system("test"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.get().action == "thing.create"


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite has one writer")
    workers, per_worker = 4, 10
    barrier = threading.Barrier(workers)

    def write(n: int) -> None:
        barrier.wait()
        try:
            for i in range(per_worker):
                with transaction.atomic():
                    record("thing.touch", by=Actor.system(f"w{n}"), object_id=str(i))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == workers * per_worker
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
