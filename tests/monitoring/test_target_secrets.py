"""Targets' request headers are encrypted in their rows, sent plain to the target, shown
masked everywhere, and a header no key opens fails the poll with that reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
from cryptography.fernet import Fernet
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings
from django.urls import reverse

from monitoring import polling
from monitoring.models import GpuNode, ModelEndpoint
from opsboard import crypto
from opsboard.accounts import services
from opsboard.audit.masking import MASK
from opsboard.audit.services import Actor
from tests import servers
from tests.conftest import client_for

NEW, STRANGER = Fernet.generate_key().decode(), Fernet.generate_key().decode()
TOKEN = "Bearer s3cret-api-key"
EXPOSITION = b"queue_depth 7\n"


def raw_headers(model: type[models.Model]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT headers FROM {model._meta.db_table}")  # noqa: S608 (names from the model)
        return [str(row[0]) for row in cursor.fetchall()]


def api(user: object) -> Client:
    _, secret = services.create_token(user=user, name="t", scopes=["read", "write"], by=Actor.system("test"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_headers_are_encrypted_in_the_row_and_masked_in_the_api_and_pages(editor) -> None:
    client = api(editor)
    body = {"name": "vllm", "kind": "prometheus", "url": "http://10.0.0.5:8000/metrics", "headers": {"X-Key": TOKEN}}
    created = client.post("/api/v1/models", body, content_type="application/json")
    assert created.status_code == 201, created.content
    node = {"name": "n1", "kind": "agent", "url": "http://10.0.0.7:9835/metrics", "headers": {"Authorization": TOKEN}}
    assert client.post("/api/v1/nodes", node, content_type="application/json").status_code == 201

    rows = raw_headers(ModelEndpoint) + raw_headers(GpuNode)
    assert not [row for row in rows if "s3cret" in row] and all("enc:v1:" in row for row in rows)
    assert json.loads(raw_headers(ModelEndpoint)[0])["X-Key"].startswith("enc:v1:")
    assert ModelEndpoint.objects.get().headers == {"X-Key": TOKEN}

    uid = created.json()["id"]
    answers = [created.json(), client.get(f"/api/v1/models/{uid}").json(), client.get("/api/v1/models").json()[0]]
    assert [answer["headers"] for answer in answers] == [{"X-Key": MASK}] * 3
    pages = [reverse("monitoring:models_detail", args=[uid]), reverse("monitoring:models_edit", args=[uid])]
    for page in pages:
        html = client_for(editor).get(page).content.decode()
        assert "s3cret" not in html and "enc:v1:" not in html


@pytest.mark.django_db
@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_a_poll_sends_the_decrypted_header_to_the_target() -> None:
    seen: list[str | None] = []

    def handle(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        servers.send(handler, 200, EXPOSITION)

    with servers.serve(handle) as base:
        target = ModelEndpoint.objects.create(name="llama", url=f"{base}/metrics", headers={"Authorization": TOKEN})
        outcome = polling.poll("model", str(target.uid), 1_800_000_000_000)
    assert outcome.startswith("up") and seen == [TOKEN]
    assert "s3cret" not in raw_headers(ModelEndpoint)[0]


@pytest.mark.django_db
def test_a_header_no_key_opens_fails_the_poll_with_that_reason(editor) -> None:
    seen: list[str] = []
    with servers.serve(lambda handler: (seen.append("asked"), servers.send(handler, 200, EXPOSITION))) as base:
        with override_settings(OPSBOARD_ENCRYPTION_KEYS=[STRANGER]):
            target = ModelEndpoint.objects.create(name="llama", url=f"{base}/metrics", headers={"Authorization": TOKEN})
        with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
            outcome = polling.poll("model", str(target.uid), 1_800_000_000_000)
            edit = client_for(editor).get(reverse("monitoring:models_edit", args=[target.uid])).content.decode()
            answer = api(editor).get(f"/api/v1/models/{target.uid}").json()
    assert seen == []
    reason = "configuration: headers: Authorization cannot be read with the current keys (OPSBOARD_ENCRYPTION_KEYS)"
    assert outcome.startswith("down") and reason in outcome
    target.refresh_from_db()
    assert target.last_error == reason and target.last_up is False
    assert "The stored Authorization cannot be read with the current keys" in edit and "enc:v1:" not in edit
    assert answer["headers"] == {"Authorization": MASK}


# --- The data migration -------------------------------------------------------------------


MIGRATION = ("monitoring", "0006_encrypt_headers")


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


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_plain_headers_and_unapplying_it_decrypts_them() -> None:
    with migrated_back(MIGRATION) as (executor, before):
        old = executor.loader.project_state(before).apps
        endpoints, nodes = old.get_model("monitoring", "ModelEndpoint"), old.get_model("monitoring", "GpuNode")
        endpoints.objects.create(name="a", url="http://h/m", headers={"X-Key": TOKEN})
        endpoints.objects.create(name="b", url="http://h/m", headers={})
        nodes.objects.create(name="n", url="http://h/m", headers={"A": "1", "B": ""})

        MigrationExecutor(connection).migrate([MIGRATION])
        stored = [json.loads(row) for row in raw_headers(ModelEndpoint) + raw_headers(GpuNode)]
        assert "s3cret" not in str(stored)
        assert sorted(crypto.decrypt(v) for row in stored for v in row.values() if v) == ["1", TOKEN]
        assert {} in stored and any(row.get("B") == "" for row in stored)

        MigrationExecutor(connection).migrate(before)
        unapplied = sorted(raw_headers(ModelEndpoint) + raw_headers(GpuNode), key=len)
        assert [json.loads(row) for row in unapplied] == [{}, {"A": "1", "B": ""}, {"X-Key": TOKEN}]
