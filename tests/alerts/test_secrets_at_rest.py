"""Transport secrets (webhook and Slack URLs, HMAC secrets) are encrypted in the rows of
channels, contact methods and the outbox; deliveries still work; a secret no key opens
fails the delivery with that reason; rotation and the data migration move every value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from django.urls import reverse

from alerts import delivery, setup
from alerts.models import ContactMethod, Notification, NotificationChannel
from alerts.oncall_forms import config_summary
from alerts.transports.webhook import verify_signature
from monitoring.models import ModelEndpoint
from opsboard import crypto
from opsboard.accounts.models import User
from opsboard.audit.models import AuditEvent
from tests.alerts.incident_kit import SETUP, fire, make_policy, make_rule, receiving, timeline_kinds
from tests.conftest import client_for

OLD, NEW, STRANGER = Fernet.generate_key().decode(), Fernet.generate_key().decode(), Fernet.generate_key().decode()
URL = "https://hooks.example.test/services/T000/B000/XYZsecretpath"
SECRET = "hmac-s3cr3t-value"


def raw_values(model: type[models.Model], column: str) -> list[str]:
    """The column as the database holds it, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table}")  # noqa: S608 (names from the model)
        return [str(row[0]) for row in cursor.fetchall()]


def webhook(name: str, url: str = URL, secret: str = SECRET) -> NotificationChannel:
    return setup.create(
        NotificationChannel, {"name": name, "kind": "webhook", "config": {"url": url, "secret": secret}}, by=SETUP
    )


def deliver_due() -> None:
    for notification_id, _queue in delivery.due_ids():
        delivery.deliver(notification_id)


@pytest.mark.django_db
@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_the_rows_hold_no_plain_secret_and_the_models_read_them_plain(viewer: User) -> None:
    channel = webhook("team")
    setup.create(
        NotificationChannel, {"name": "list", "kind": "email", "config": {"addresses": ["ops@x.test"]}}, by=SETUP
    )
    setup.create(ContactMethod, {"user": viewer, "kind": "slack", "config": {"webhook_url": URL}}, by=SETUP)
    make_policy(channel)
    fire(make_rule())  # writes the outbox row, a copy of the channel's settings

    rows = [*raw_values(NotificationChannel, "config"), *raw_values(ContactMethod, "config")]
    rows += [*raw_values(Notification, "config"), *raw_values(AuditEvent, "changes")]
    assert not [row for row in rows if "XYZsecretpath" in row or SECRET in row]
    assert sum(row.count("enc:v1:") for row in rows) == 5  # url and secret twice, webhook_url once
    assert any("ops@x.test" in row for row in raw_values(NotificationChannel, "config"))  # addresses: not secret

    assert NotificationChannel.objects.get(name="team").config == {"url": URL, "secret": SECRET}
    assert ContactMethod.objects.get().config == {"webhook_url": URL}
    assert Notification.objects.get().config == {"url": URL, "secret": SECRET}
    assert NotificationChannel.objects.filter(name="team").values_list("config__url", flat=True).get() == URL


@pytest.mark.django_db
@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_a_dump_of_the_data_holds_tokens_not_secrets() -> None:
    webhook("team")
    dumped = serializers.serialize("json", NotificationChannel.objects.all())
    assert "XYZsecretpath" not in dumped and SECRET not in dumped and "enc:v1:" in dumped


@pytest.mark.django_db
@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW, OLD])
def test_a_signed_webhook_is_delivered_end_to_end_from_encrypted_settings() -> None:
    with receiving() as receiver:
        with override_settings(OPSBOARD_ENCRYPTION_KEYS=[OLD]):
            channel = webhook("team", receiver.url, "team-secret")  # under the older key: still read
        make_policy(channel)
        incident = fire(make_rule())
        deliver_due()
    assert [r["body"]["incident"]["code"] for r in receiver.requests] == [incident.code]
    raw, headers = receiver.requests[0]["raw"], receiver.requests[0]["headers"]
    assert verify_signature("team-secret", headers["X-Opsboard-Timestamp"], raw, headers["X-Opsboard-Signature"])
    assert Notification.objects.get().status == Notification.DELIVERED
    assert "team-secret" not in raw_values(Notification, "config")[0]


@pytest.mark.django_db
def test_a_secret_no_key_opens_fails_the_delivery_with_that_reason_and_shows_so(editor: User) -> None:
    with receiving() as receiver:
        with override_settings(OPSBOARD_ENCRYPTION_KEYS=[STRANGER]):
            channel = webhook("team", receiver.url)
        with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
            make_policy(NotificationChannel.objects.get(pk=channel.pk))
            incident = fire(make_rule())
            deliver_due()
            listing = client_for(editor).get(reverse("oncall:channels")).content.decode()
            edit = reverse("oncall:channel_edit", args=[channel.uid])
            refused = client_for(editor).post(edit, {"name": "team", "kind": "webhook", "enabled": "on"})
    assert receiver.requests == []
    notification = Notification.objects.get()
    assert notification.status == Notification.FAILED
    assert notification.last_error.startswith("url, secret cannot be read with the current keys")
    assert "notify_failed" in timeline_kinds(incident)
    failed = incident.events.get(kind="notify_failed").text
    assert "cannot be read with the current keys" in failed and "enc:v1:" not in failed
    assert "url</dt><dd>cannot be read with the current keys" in listing and "enc:v1:" not in listing
    assert refused.status_code == 400
    assert "cannot be read with the current keys" in " ".join(refused.context["form"].errors["cfg_webhook_url"])


@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_the_summary_tells_an_unreadable_secret_from_a_set_one() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[STRANGER]):
        token = crypto.encrypt(URL)
    assert config_summary({"url": token, "secret": "", "addresses": ["a@x.test"]}) == [
        ("url", "cannot be read with the current keys"),
        ("secret", "not set"),
        ("addresses", "a@x.test"),
    ]


def rotate() -> str:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW, OLD]):
        call_command("rotate_encryption_keys", "--batch-size", "2", stdout=(out := _Out()), stderr=(err := _Out()))
    return out.text + err.text


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.django_db
def test_rotation_moves_every_secret_to_the_newest_key_once_and_is_audited(viewer: User) -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[OLD]):
        for name in ("a", "b", "c"):
            webhook(name)
        setup.create(ContactMethod, {"user": viewer, "kind": "slack", "config": {"webhook_url": URL}}, by=SETUP)
        ModelEndpoint.objects.create(name="llama", url="http://10.0.0.1/metrics", headers={"Authorization": "Bearer t"})
    legacy = models.Value({"url": URL, "secret": ""}, output_field=models.JSONField())
    NotificationChannel.objects.filter(name="c").update(config=legacy)  # plain, as before encryption

    first = rotate()
    assert "total: 5 rows: 6 re-encrypted, 1 plain encrypted, 0 already current, 0 unreadable" in first
    assert "alerts.NotificationChannel.config: 3 rows: 4 re-encrypted, 1 plain encrypted" in first
    tokens = [token for row in raw_values(NotificationChannel, "config") for token in json.loads(row).values() if token]
    tokens += [json.loads(row)["Authorization"] for row in raw_values(ModelEndpoint, "headers")]
    assert len(tokens) == 6 and {Fernet(NEW).decrypt(t.removeprefix("enc:v1:")) for t in tokens} == {
        URL.encode(),
        SECRET.encode(),
        b"Bearer t",
    }
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
        assert NotificationChannel.objects.get(name="a").config == {"url": URL, "secret": SECRET}
        assert ModelEndpoint.objects.get().headers == {"Authorization": "Bearer t"}

    assert "total: 5 rows: 0 re-encrypted, 0 plain encrypted, 7 already current, 0 unreadable" in rotate()
    events = AuditEvent.objects.filter(action="encryption.rotate").order_by("id")
    assert [(e.changes["after"]["re_encrypted"], e.changes["after"]["current"]) for e in events] == [(6, 0), (0, 7)]
    assert events[0].actor_name == "system:rotate_encryption_keys"


@pytest.mark.django_db
def test_rotation_leaves_and_reports_what_no_key_opens() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[STRANGER]):
        webhook("lost", secret="")
    report = rotate()
    assert "1 unreadable" in report and "1 values cannot be read with the current keys" in report
    assert json.loads(raw_values(NotificationChannel, "config")[0])["url"].startswith("enc:v1:")


@pytest.mark.django_db
@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_no_column_of_the_outbox_holds_a_plain_secret() -> None:
    make_policy(webhook("team"))
    fire(make_rule())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Notification._meta.db_table}")  # noqa: S608
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "XYZsecretpath" not in row and SECRET not in row


# --- The data migration -------------------------------------------------------------------


MIGRATION = ("alerts", "0004_encrypt_secrets")


@contextmanager
def migrated_back(target: tuple[str, str]) -> Iterator[tuple[MigrationExecutor, list[tuple[str, str]]]]:
    """The database just before ``target``; every migration applied again afterwards."""
    executor = MigrationExecutor(connection)
    before = [node.key for node in executor.loader.graph.node_map[target].parents if node.key[0] == target[0]]
    executor.migrate(before)
    try:
        yield executor, before
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(targets: list[tuple[str, str]]) -> None:
    MigrationExecutor(connection).migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_plain_rows_and_unapplying_it_decrypts_them() -> None:
    plain = [{"url": URL, "secret": SECRET}, {"addresses": ["ops@x.test"]}, {"webhook_url": URL}]
    with migrated_back(MIGRATION) as (executor, before):
        old = executor.loader.project_state(before).apps
        user = old.get_model("accounts", "User").objects.create(username="mig", password="!")
        channels = old.get_model("alerts", "NotificationChannel")
        channels.objects.create(name="hook", kind="webhook", config=plain[0])
        channels.objects.create(name="list", kind="email", config=plain[1])
        old.get_model("alerts", "ContactMethod").objects.create(user=user, kind="slack", config=plain[2])

        migrate([MIGRATION])
        stored = [json.loads(row) for row in raw_values(NotificationChannel, "config")]
        stored += [json.loads(row) for row in raw_values(ContactMethod, "config")]
        assert "XYZsecretpath" not in str(stored) and SECRET not in str(stored)
        assert {crypto.decrypt(v) for row in stored for k, v in row.items() if k != "addresses"} == {URL, SECRET}
        assert {"addresses": ["ops@x.test"]} in stored

        migrate(before)
        unapplied = [json.loads(row) for row in raw_values(NotificationChannel, "config")]
        unapplied += [json.loads(row) for row in raw_values(ContactMethod, "config")]
        assert sorted(map(json.dumps, unapplied)) == sorted(map(json.dumps, plain))
