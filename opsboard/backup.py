"""Backup and restore of Opsboard's own data, as one gzipped JSON-lines file.

The file holds, line by line: a header (format, version, the database vendor, the
migrations applied to each app, and the tables that follow); then for each table a line
``{"table": label, "columns": [...]}`` followed by one JSON array per row; and last
``{"end": {label: rows}}``, without which a file is truncated and refused.

What is in it: every table of the accounts, audit, monitoring and alerts apps (users with
their password hashes, roles, API token digests, targets, rules and their versions,
silences, schedules, policies, channels, contact methods, incidents with timelines and
notifications, alert states, the audit log), and with ``samples_days`` the series,
samples and rollups of that many recent days. Not in it: sessions, the schedule state of
django-celery-beat, sign-in lockouts, and anything held in Redis.

Values are columns as stored, made vendor-neutral with Django's own conversions (so a
backup of SQLite restores into PostgreSQL and back). Encrypted columns are read through
their raw field: secrets travel as the ``enc:v1:`` tokens the database holds and are never
decrypted into the file. Restoring inserts the rows as they were, ids included, audit
events with their original hashes, so ``manage.py audit_verify`` still verifies; it runs
in one transaction that verifies the audit chain before it commits.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.expressions import Col
from django.utils import timezone

from opsboard import crypto
from opsboard.audit.services import Actor, record, verify_chain

FORMAT = "opsboard-backup"
VERSION = 1
APPS = ("accounts", "audit", "monitoring", "alerts")
TIME_SERIES = ("monitoring.series", "monitoring.sample", "monitoring.rollup", "monitoring.rollupdirty")
# Rows a migration creates: replaced by the backup's, and not counted as data already there.
SEEDED = ("accounts.role",)
BATCH = 2000
DAY_MS = 86_400_000


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why and what to do."""


# --- Tables -----------------------------------------------------------------------------------


def backed_up_models(*, samples: bool) -> list[type[models.Model]]:
    """The models whose tables a backup holds, parents before children."""
    chosen = [
        model
        for label in APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and (samples or model._meta.label_lower not in TIME_SERIES)
    ]
    # Left out: links to tables outside the backup (users' Django groups and permissions,
    # which Opsboard does not use: roles take their place).
    inside = set(chosen)
    chosen = [model for model in chosen if all(parent in inside for parent in _parents(model))]
    return _parents_first(chosen)


def _parents(model: type[models.Model]) -> set[type[models.Model]]:
    return {field.related_model for field in model._meta.local_concrete_fields if field.is_relation} - {model}


def _parents_first(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    ordered: list[type[models.Model]] = []
    waiting = list(chosen)
    while waiting:
        ready = [model for model in waiting if not _parents(model) & set(waiting)] or waiting[:1]
        ordered += ready
        waiting = [model for model in waiting if model not in ready]
    return ordered


def _columns(model: type[models.Model]) -> list[models.Field]:
    return list(model._meta.local_concrete_fields)


def _stored_field(field: models.Field) -> models.Field:
    """The field that reads and writes the column as stored: past decryption for secrets."""
    return field.raw_field() if isinstance(field, crypto.EncryptedField) else field


def migration_state() -> dict[str, list[str]]:
    """The migrations applied to each backed-up app, by name."""
    applied = MigrationRecorder(connection).applied_migrations()
    return {label: sorted(name for app, name in applied if app == label) for label in APPS}


# --- Values -------------------------------------------------------------------------------------

_TAGS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    datetime: ("$datetime", lambda v: v.isoformat()),
    date: ("$date", lambda v: v.isoformat()),
    time: ("$time", lambda v: v.isoformat()),
    timedelta: ("$timedelta", lambda v: v // timedelta(microseconds=1)),
    uuid.UUID: ("$uuid", str),
    Decimal: ("$decimal", str),
    bytes: ("$bytes", lambda v: base64.b64encode(v).decode()),
    memoryview: ("$bytes", lambda v: base64.b64encode(bytes(v)).decode()),
}
_UNTAG: dict[str, Callable[[Any], Any]] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$timedelta": lambda v: timedelta(microseconds=v),
    "$uuid": uuid.UUID,
    "$decimal": Decimal,
    "$bytes": base64.b64decode,
}


def _is_json(field: models.Field) -> bool:
    return isinstance(field, models.JSONField)


def _encode(value: Any, field: models.Field) -> Any:
    """A JSON-ready form of a column's Python value; JSON columns go as they are."""
    if _is_json(field) or value is None:
        return value
    tag = _TAGS.get(type(value))
    return {tag[0]: tag[1](value)} if tag else value


def _decode(value: Any, field: models.Field) -> Any:
    if _is_json(field) or not isinstance(value, dict) or len(value) != 1:
        return value
    ((tag, inner),) = value.items()
    return _UNTAG[tag](inner)


def _reader(field: models.Field) -> Callable[[Any], Any]:
    """Column value as the driver returns it → the value the ORM would see (the stored
    form, for encrypted columns), as the ORM converts it."""
    stored = _stored_field(field)
    col = Col(field.model._meta.db_table, field, stored)
    converters = connection.ops.get_db_converters(col) + stored.get_db_converters(connection)

    def read(value: Any) -> Any:
        for convert in converters:
            value = convert(value, col, connection)
        return _encode(value, stored)

    return read


def _writer(field: models.Field) -> Callable[[Any], Any]:
    stored = _stored_field(field)
    return lambda value: stored.get_db_prep_save(_decode(value, stored), connection)


# --- Backup ---------------------------------------------------------------------------------------


def backup(path: Path, *, samples_days: int | None = None) -> dict[str, int]:
    """Write the backup to ``path`` (through a temporary file, so a failed backup leaves no
    partial file under that name); returns the rows written per table."""
    chosen = backed_up_models(samples=samples_days is not None)
    since_ms = None if samples_days is None else int(timezone.now().timestamp() * 1000) - samples_days * DAY_MS
    partial = path.with_name(path.name + ".partial")
    try:
        with _snapshot(), gzip.open(partial, "wt", encoding="utf-8") as out:
            _line(out, _header(chosen, samples_days))
            counts = {model._meta.label_lower: _dump(out, model, since_ms) for model in chosen}
            _line(out, {"end": counts})
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    _audit("backup", path, counts)
    return counts


def _audit(what: str, path: Path, counts: dict[str, int]) -> None:
    summary = {"file": path.name, "rows": sum(counts.values()), "tables": len(counts)}
    record(f"opsboard.{what}", by=Actor.system(what), object_repr=path.name[:200], changes={"after": summary})


@contextmanager
def _snapshot() -> Iterator[None]:
    """Every table read at one moment, so that the rows agree with each other (an incident
    created during the backup is in it with all its notifications, or not at all)."""
    if connection.in_atomic_block:  # already in a transaction: its view
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        # SQLite in WAL mode: a deferred read transaction sees one snapshot and, unlike the
        # IMMEDIATE transactions of transaction.atomic(), does not hold up writers.
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")


def _header(chosen: list[type[models.Model]], samples_days: int | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "migrations": migration_state(),
        "samples_days": samples_days,
        "tables": [model._meta.label_lower for model in chosen],
    }


def _line(out: IO[str], value: Any) -> None:
    out.write(json.dumps(value, separators=(",", ":"), allow_nan=True))
    out.write("\n")


def _dump(out: IO[str], model: type[models.Model], since_ms: int | None) -> int:
    fields = _columns(model)
    _line(out, {"table": model._meta.label_lower, "columns": [field.column for field in fields]})
    readers = [_reader(field) for field in fields]
    sql, params = _select(model, fields, since_ms)
    rows = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            for row in batch:
                _line(out, [read(value) for read, value in zip(readers, row, strict=True)])
            rows += len(batch)
    return rows


def _select(model: type[models.Model], fields: list[models.Field], since_ms: int | None) -> tuple[str, list[int]]:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    order = ", ".join(quote(field.column) for field in model._meta.pk_fields)
    where, params = _recent(model, since_ms)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)}{where} ORDER BY {order}", params  # noqa: S608


def _recent(model: type[models.Model], since_ms: int | None) -> tuple[str, list[int]]:
    """The WHERE clause keeping a time-series table to the recent days: samples, rollups and
    dirty minutes by time, series when they have recent samples or rollups."""
    from monitoring.models import Rollup, Sample, Series

    label = model._meta.label_lower
    if since_ms is None or label not in TIME_SERIES:
        return "", []
    quote = connection.ops.quote_name
    if model is not Series:
        column = "ts" if model is Sample else "bucket"
        return f" WHERE {quote(column)} >= %s", [since_ms]
    recent = " UNION ".join(
        f"SELECT {quote('series_id')} FROM {quote(table)} WHERE {quote(column)} >= %s"  # noqa: S608
        for table, column in ((Sample._meta.db_table, "ts"), (Rollup._meta.db_table, "bucket"))
    )
    return f" WHERE {quote('id')} IN ({recent})", [since_ms, since_ms]


# --- Restore --------------------------------------------------------------------------------------


def read_header(source: IO[str]) -> dict[str, Any]:
    try:
        header = json.loads(source.readline() or "null")
    except (ValueError, OSError, EOFError) as exc:
        raise BackupError(f"this is not an Opsboard backup: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError("this is not an Opsboard backup (no opsboard-backup header)")
    if header.get("version") != VERSION:
        raise BackupError(f"backup format version {header.get('version')} is not {VERSION}, which this Opsboard reads")
    return header


def restore(path: Path, *, force: bool = False) -> dict[str, int]:
    """Load the backup at ``path`` into this database, in one transaction; returns the rows
    restored per table. Refuses another migration state, and a database that holds data
    unless ``force`` (then the backup's tables are emptied and replaced)."""
    with gzip.open(path, "rt", encoding="utf-8") as source:
        header = read_header(source)
        check_migrations(header["migrations"])
        chosen = _models(header["tables"])
        if not force:
            check_empty(chosen)
        with transaction.atomic():
            if force:
                _empty_tables(chosen)
            _delete_seeded(chosen)
            counts = _load(source, {model._meta.label_lower: model for model in chosen})
            _reset_sequences(chosen)
            _verify_audit_chain()
            _audit("restore", path, counts)
    return counts


def check_migrations(backed_up: dict[str, list[str]]) -> None:
    """Refuse a backup made at other migrations, saying which and what to do."""
    here = migration_state()
    problems = []
    for label in sorted(set(backed_up) | set(here)):
        missing = sorted(set(backed_up.get(label, [])) - set(here.get(label, [])))
        extra = sorted(set(here.get(label, [])) - set(backed_up.get(label, [])))
        if missing:
            problems.append(f"{label}: the backup has {', '.join(missing)}, which this database has not applied")
        if extra:
            problems.append(f"{label}: this database has {', '.join(extra)}, which the backup predates")
    if problems:
        raise BackupError(
            "the backup was made at another migration state:\n  "
            + "\n  ".join(problems)
            + "\nRestore with the Opsboard version that made the backup (into a database migrated by it), "
            "then upgrade and migrate."
        )


def _models(labels: Iterable[str]) -> list[type[models.Model]]:
    known = {model._meta.label_lower: model for model in backed_up_models(samples=True)}
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise BackupError(f"the backup holds tables this Opsboard does not know: {', '.join(unknown)}")
    return [known[label] for label in labels]


def check_empty(chosen: list[type[models.Model]]) -> None:
    """Refuse to restore over data (the rows migrations create do not count)."""
    held = [
        f"{model._meta.label_lower} ({model._base_manager.count()} rows)"
        for model in chosen
        if model._meta.label_lower not in SEEDED and model._base_manager.exists()
    ]
    if held:
        raise BackupError(
            f"this database holds data: {', '.join(held)}. Restore into an empty database that "
            "`manage.py migrate` prepared, or pass --force to replace these tables with the backup's."
        )


def _empty_tables(chosen: list[type[models.Model]]) -> None:
    """Empty the tables, and those of rows that point at them (on PostgreSQL with TRUNCATE,
    which the audit log's append-only trigger, a row trigger, does not stop)."""
    doomed = _with_dependents(chosen)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE refuses tables with foreign-key checks pending in this transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE " + ", ".join(quote(model._meta.db_table) for model in doomed))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for model in reversed(doomed):
                cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")  # noqa: S608


def _delete_seeded(chosen: list[type[models.Model]]) -> None:
    """The rows migrations created make way for the backup's (nothing points at them: the
    database holds no other data, or --force emptied it)."""
    with connection.cursor() as cursor:
        for model in chosen:
            if model._meta.label_lower in SEEDED:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608


def _with_dependents(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    everything = apps.get_models(include_auto_created=True)
    doomed = list(chosen)
    for model in doomed:  # grows while it is walked: dependents of dependents
        doomed += [other for other in everything if model in _parents(other) and other not in doomed]
    return doomed


def _load(source: IO[str], chosen: dict[str, type[models.Model]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    table: _Table | None = None
    for line in source:
        item = json.loads(line)
        if isinstance(item, list):
            if table is None:
                raise BackupError("the backup is damaged: a row before any table")
            table.add(item)
            continue
        if table is not None:
            counts[table.label] = table.flush()
        if "end" in item:
            return _checked(counts, item["end"])
        table = _Table(chosen[item["table"]], item["columns"])
    raise BackupError("the backup is truncated: its end marker is missing")


def _checked(counts: dict[str, int], expected: dict[str, int]) -> dict[str, int]:
    if counts != expected:
        raise BackupError(f"the backup is damaged: rows read {counts} differ from rows written {expected}")
    return counts


class _Table:
    """Rows of one table, inserted as they are (ids included) a batch at a time."""

    def __init__(self, model: type[models.Model], columns: list[str]) -> None:
        fields = {field.column: field for field in _columns(model)}
        if sorted(columns) != sorted(fields):
            raise BackupError(f"{model._meta.label_lower}: the backup's columns differ from this database's")
        self.label = model._meta.label_lower
        self.columns = columns
        self.writers = [_writer(fields[column]) for column in columns]
        quote = connection.ops.quote_name
        names = ", ".join(quote(column) for column in columns)
        marks = ", ".join(["%s"] * len(columns))
        self.sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
        self.rows: list[list[Any]] = []
        self.count = 0

    def add(self, row: list[Any]) -> None:
        self.rows.append([write(value) for write, value in zip(self.writers, row, strict=True)])
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> int:
        if self.rows:
            if self.label == "monitoring.sample":
                _ensure_partitions(self.columns, self.rows)
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, self.rows)
            self.count += len(self.rows)
            self.rows = []
        return self.count


def _ensure_partitions(columns: list[str], rows: list[list[Any]]) -> None:
    """On PostgreSQL raw samples live in day partitions, which a fresh database lacks."""
    from monitoring import partitions

    at = columns.index("ts")
    partitions.ensure({partitions.day_of(row[at]) for row in rows})


def _reset_sequences(chosen: list[type[models.Model]]) -> None:
    """Ids given on insert do not move PostgreSQL's sequences; the next row would collide."""
    statements = connection.ops.sequence_reset_sql(no_style(), chosen)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _verify_audit_chain() -> None:
    checked, broken = verify_chain()
    if broken is not None:
        raise BackupError(
            f"after restoring, audit event #{broken.event.pk} does not verify ({broken.reason}); "
            f"{checked} events before it did. Nothing was restored."
        )
