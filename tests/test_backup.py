"""opsboard_backup and opsboard_restore: one of everything survives the round trip into an
empty database row for row, secrets stay encrypted in the file, the audit chain verifies,
and a backup is refused where it would do harm."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, models
from django.db.models import ExpressionWrapper, F
from django.test import Client
from django.utils import timezone

from alerts import alertmanager, delivery, links, silences
from alerts.models import AlertRule, ReceivedNotification, Schedule, ScheduleLayer, ScheduleOverride
from monitoring import rollups, runs, store
from monitoring.models import GpuNode, ModelEndpoint, Rollup, RollupDirty, Sample, Series
from monitoring.samples import sample
from opsboard import backup, crypto
from opsboard.accounts import roles, services
from opsboard.accounts.models import RecoveryCode, TotpDevice, User
from opsboard.accounts.tokens import digest_of
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import fire, make_policy, make_rule, receiving, webhook_channel, webhook_contact
from tests.conftest import PASSWORD, TEST_PREFIX

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SETUP = Actor.system("test")
DAY = timedelta(days=1)
SECRETS = ("model-api-key-7f3a", "hooks.example.test/T0/B1/team-secret", "hooks.example.test/T0/B1/ada-secret")


# --- One of everything ------------------------------------------------------------------------


def fill(cast: dict[str | None, User]) -> dict[str, Any]:
    """A row in every table a backup holds, made the way Opsboard makes them where it can."""
    admin, viewer = cast[roles.ADMIN], cast[roles.VIEWER]
    _, token = services.create_token(user=viewer, name="sdk", scopes=["ingest", "read"], by=SETUP)
    TotpDevice.objects.create(user=admin, secret="JBSWY3DPEHPK3PXP", confirmed_at=timezone.now())
    RecoveryCode.objects.create(user=admin, digest=digest_of("recovery-1"))
    fill_targets_and_runs(admin)
    fill_incidents(admin, fill_on_call(admin))
    fill_samples()
    return {"token": token}


def fill_targets_and_runs(admin: User) -> None:
    ModelEndpoint.objects.create(
        name="llama", kind="prometheus", url="http://gpu-3:8000/metrics", headers={"Authorization": SECRETS[0]}
    )
    GpuNode.objects.create(name="gpu-3", kind="agent", url="http://gpu-3:9835/metrics")
    runs.start_run(name="cnn-1", project="demo", config={"lr": 0.001}, by=Actor.for_user(admin))


def fill_on_call(admin: User) -> Schedule:
    schedule = Schedule.objects.create(name="primary", timezone="Europe/Berlin")
    start = datetime(2030, 1, 7, 8, tzinfo=UTC)
    ScheduleLayer.objects.create(schedule=schedule, participants=[str(admin.uid)], start=start)
    ScheduleOverride.objects.create(schedule=schedule, user=admin, starts_at=start, ends_at=start + DAY)
    webhook_contact(admin, f"https://{SECRETS[2]}")
    silences.create_silence(
        {"matchers": 'model="llama"', "starts_at": timezone.now(), "ends_at": timezone.now() + DAY, "comment": "m"},
        by=Actor.for_user(admin),
    )
    return schedule


def fill_incidents(admin: User, schedule: Schedule) -> None:
    """A rule fired and paged a webhook (one attempt failed), the page acknowledged by link,
    an Alertmanager alert, and the demo receiver's log."""
    with receiving(fail_first=1) as receiver:
        channel = webhook_channel("team", f"{receiver.url}/{SECRETS[1]}")  # paged with the secret in its URL
        make_policy(channel, schedule)  # the schedule's step comes after 5 minutes
        incident = fire(make_rule(runbook_url="https://runbooks.example/gpu"))
        for _ in range(2):
            for notification_id, _queue in delivery.due_ids():
                delivery.deliver(notification_id)
            time.sleep(1.1)  # the first retry waits up to a second
    assert [r["body"]["event"] for r in receiver.requests] == ["triggered", "triggered"]
    link = urlsplit(links.make_link(incident, "ack", admin, "webhook")).path
    assert Client().get(link).status_code == 200  # acknowledged, the link spent
    alertmanager.receive(json.loads((FIXTURES / "alertmanager" / "firing.json").read_text()))
    ReceivedNotification.objects.create(channel=channel, event="triggered", signature_ok=True, payload={"x": 1})


def fill_samples() -> None:
    """Samples 10 days old and recent, rolled up, and one newer minute not rolled up yet."""
    now_ms = int(time.time() * 1000)
    old, recent = now_ms - 10 * 86_400_000, now_ms - 2 * 3_600_000
    store.write([sample("gpu_temp", {"node": "old"}, old, 60.0), sample("gpu_temp", {"node": "gpu-3"}, recent, 70.0)])
    rollups.roll_up()
    store.write([sample("gpu_temp", {"node": "gpu-3"}, now_ms, 71.0)])


# --- Comparing --------------------------------------------------------------------------------------


def rows(model: type[models.Model], using: str, **where: Any) -> list[tuple]:
    """Every row as the ORM reads it (secrets decrypted), in primary-key order."""
    fields = [field.attname for field in model._meta.local_concrete_fields]
    order = [field.attname for field in model._meta.pk_fields]
    return list(model._base_manager.using(using).filter(**where).order_by(*order).values_list(*fields))


def stored_secrets(model: type[models.Model], using: str) -> list[tuple]:
    """The encrypted columns as stored: the tokens themselves."""
    encrypted = [f for f in model._meta.local_concrete_fields if isinstance(f, crypto.EncryptedField)]
    raw = {f"raw_{f.attname}": ExpressionWrapper(F(f.attname), output_field=f.raw_field()) for f in encrypted}
    return list(model._base_manager.using(using).order_by("pk").annotate(**raw).values_list(*raw)) if raw else []


def recent_only(model: type[models.Model], since_ms: int) -> dict[str, Any]:
    """What a backup with --samples-days keeps of a time-series table."""
    if model is Sample:
        return {"ts__gte": since_ms}
    if model in (Rollup, RollupDirty):
        return {"bucket__gte": since_ms}
    if model is Series:
        return {"pk__in": set(Sample.objects.filter(ts__gte=since_ms).values_list("series_id", flat=True))}
    return {}


def assert_same_rows(chosen: list[type[models.Model]], since_ms: int) -> None:
    for model in chosen:
        label = model._meta.label_lower
        source = rows(model, "default", **recent_only(model, since_ms))
        restored = rows(model, "restored")
        if model is AuditEvent:  # the source went on with "backup", the copy with "restore"
            action = [f.attname for f in model._meta.local_concrete_fields].index("action")
            assert [e[action] for e in (source[-1], restored[-1])] == ["opsboard.backup", "opsboard.restore"]
            source, restored = source[:-1], restored[:-1]
        assert restored == source, label
    stored = [stored_secrets(model, "default") for model, _field in crypto.encrypted_columns()]
    assert stored == [stored_secrets(model, "restored") for model, _field in crypto.encrypted_columns()]
    text = json.dumps(stored, default=str)  # the very tokens, not secrets encrypted again
    assert "enc:v1:" in text and not [secret for secret in SECRETS if secret in text]


# --- A database to restore into -------------------------------------------------------------------


def manage(database_url: str, *args: str, ok: bool = True) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "OPSBOARD_REDIS_PREFIX": TEST_PREFIX}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done.stdout + done.stderr


def postgres_url(name: str) -> str:
    own = connections.settings["default"]
    password = f":{own['PASSWORD']}" if own.get("PASSWORD") else ""
    return f"postgres://{own['USER']}{password}@{own['HOST'] or '127.0.0.1'}:{own['PORT'] or 5432}/{name}"


@pytest.fixture(params=["same", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path, db: None) -> Iterator[str]:
    """An empty, migrated database beside the test's: a scratch database on PostgreSQL
    (created and dropped here), or a file on SQLite; also as the connection "restored"."""
    if request.param == "sqlite" and connection.vendor == "sqlite":
        pytest.skip("the same as 'same' on SQLite")
    if request.param == "same" and connection.vendor == "postgresql":
        name = f"h_monitor_restore_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = postgres_url(name)
    else:
        name, url = "", f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    connections.settings["restored"] = connections.configure_settings({"default": dj_database_url.parse(url)})[
        "default"
    ]
    try:
        # Connected now, explicitly: the test case refuses to open connections to aliases it
        # was not told of, and this one exists only for this test.
        connections["restored"].connect()
        call_command("migrate", database="restored", verbosity=0)
        yield url
    finally:
        connections["restored"].close()
        del connections["restored"]
        del connections.settings["restored"]
        if name:
            with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- The round trip ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_of_everything_comes_back_row_for_row(cast, target: str, tmp_path: Path) -> None:
    made = fill(cast)
    chosen = backup.backed_up_models(samples=True)
    empty = [model._meta.label_lower for model in chosen if not model._base_manager.exists()]
    assert empty == [], "fill() must write a row in every table a backup holds"
    file = tmp_path / "opsboard.jsonl.gz"
    call_command("opsboard_backup", str(file), "--samples-days", "7", verbosity=0)
    since_ms = int((timezone.now() - 7 * DAY).timestamp() * 1000)

    text = gzip.decompress(file.read_bytes()).decode()
    assert "enc:v1:" in text
    leaked = [line for line in text.splitlines() if any(secret in line for secret in SECRETS)]
    assert not leaked, "\n".join(leaked)

    output = manage(target, "opsboard_restore", str(file))
    assert "the audit chain verifies" in output
    assert_same_rows(chosen, since_ms)
    assert f"audit chain verified: {AuditEvent.objects.count()} events\n" in manage(target, "audit_verify")

    restored_admin = User.objects.using("restored").get(username="ada")
    assert restored_admin.check_password(PASSWORD)
    assert ModelEndpoint.objects.using("restored").get().headers == {"Authorization": SECRETS[0]}
    assert User.objects.using("restored").get(username="vic").api_tokens.get().digest == digest_of(made["token"])
    newest = AlertRule.objects.using("restored").order_by("-pk").first().pk
    assert AlertRule.objects.using("restored").create(name="After", expression="up").pk > newest  # sequences moved


def test_without_samples_days_no_series_are_kept(cast, tmp_path: Path) -> None:
    fill_samples()
    file = tmp_path / "config.jsonl.gz"
    call_command("opsboard_backup", str(file), verbosity=0)
    with gzip.open(file, "rt") as source:
        header = backup.read_header(source)
    assert header["samples_days"] is None
    assert not set(backup.TIME_SERIES) & set(header["tables"])
    assert header["migrations"]["audit"] == ["0001_initial", "0002_append_only_trigger"]


# --- Refusals -----------------------------------------------------------------------------------


def test_refused_over_data_unless_forced(cast, tmp_path: Path) -> None:
    make_rule()
    file = tmp_path / "opsboard.jsonl.gz"
    call_command("opsboard_backup", str(file), verbosity=0)
    with pytest.raises(CommandError, match=r"this database holds data: .*alerts.alertrule \(1 rows\).*--force"):
        call_command("opsboard_restore", str(file), verbosity=0)
    make_rule("Second")
    call_command("opsboard_restore", str(file), "--force", verbosity=0)
    assert rule_names() == ["GPUHot"]  # replaced by the backup's
    assert AuditEvent.objects.order_by("-id").first().action == "opsboard.restore"


def rule_names() -> list[str]:
    return list(AlertRule.objects.order_by("pk").values_list("name", flat=True))


def rewrite(file: Path, change: Any) -> Path:
    lines = gzip.decompress(file.read_bytes()).decode().splitlines()
    changed = file.with_name("changed.jsonl.gz")
    changed.write_bytes(gzip.compress(("\n".join(change(lines)) + "\n").encode()))
    return changed


def test_refused_at_another_migration_state(cast, tmp_path: Path) -> None:
    file = tmp_path / "opsboard.jsonl.gz"
    call_command("opsboard_backup", str(file), verbosity=0)

    def newer(lines: list[str]) -> list[str]:
        header = json.loads(lines[0])
        header["migrations"]["alerts"].append("9999_from_the_future")
        return [json.dumps(header), *lines[1:]]

    with pytest.raises(CommandError) as refused:
        call_command("opsboard_restore", str(rewrite(file, newer)), "--force", verbosity=0)
    assert "alerts: the backup has 9999_from_the_future, which this database has not applied" in str(refused.value)


def test_a_truncated_backup_restores_nothing(cast, tmp_path: Path) -> None:
    make_rule()
    file = tmp_path / "opsboard.jsonl.gz"
    call_command("opsboard_backup", str(file), verbosity=0)
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="truncated"):
        call_command("opsboard_restore", str(rewrite(file, lambda lines: lines[:-1])), "--force", verbosity=0)
    assert rule_names() == ["GPUHot"] and AuditEvent.objects.count() == events  # rolled back


def test_a_tampered_audit_log_restores_nothing(cast, tmp_path: Path) -> None:
    make_rule()
    file = tmp_path / "opsboard.jsonl.gz"
    call_command("opsboard_backup", str(file), verbosity=0)
    events = AuditEvent.objects.count()

    def tampered(lines: list[str]) -> list[str]:
        at = lines.index(next(line for line in lines if line.startswith('{"table":"audit.auditevent"'))) + 1
        return [*lines[:at], lines[at].replace("rule.create", "rule.delete"), *lines[at + 1 :]]

    with pytest.raises(CommandError, match=r"audit event #\d+ does not verify \(its content does not match its hash\)"):
        call_command("opsboard_restore", str(rewrite(file, tampered)), "--force", verbosity=0)
    assert AuditEvent.objects.count() == events


def test_not_a_backup_and_an_existing_file_are_refused(db, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip at all")
    with pytest.raises(CommandError, match="not an Opsboard backup"):
        call_command("opsboard_restore", str(junk), verbosity=0)
    with pytest.raises(CommandError, match="exists"):
        call_command("opsboard_backup", str(junk), verbosity=0)
