"""Targets registered in the UI and the API: validated, audited, secrets never shown back."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import GpuNode, ModelEndpoint
from opsboard.accounts import services
from opsboard.audit.masking import MASK
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.conftest import client_for

FORM = {
    "name": "llama-70b",
    "kind": "prometheus",
    "version": "v3",
    "url": "http://10.0.0.5:8000/metrics",
    "interval_s": "15",
    "timeout_s": "5",
    "labels": "team=serving\nregion=eu",
    "headers": "Authorization: Bearer s3cret",
    "series_limit": "10000",
    "queue": "polls",
    "enabled": "on",
    "cfg_prometheus_family": "auto",
}


def test_an_editor_adds_a_model_endpoint(editor) -> None:
    response = client_for(editor).post(reverse("monitoring:models_create"), FORM)
    target = ModelEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "monitoring:models_detail", args=[target.uid]
    )
    assert target.labels == {"team": "serving", "region": "eu"}
    assert target.headers == {"Authorization": "Bearer s3cret"}
    assert target.config == {"family": "auto"}
    event = AuditEvent.objects.get(action="modelendpoint.create")
    assert event.changes["after"]["headers"] == MASK
    assert "s3cret" not in json.dumps(event.changes)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"url": "file:///etc/passwd"}, "url", "only http and https URLs are allowed"),
        ({"url": ""}, "url", "this kind needs a URL"),
        ({"timeout_s": "30"}, "timeout_s", "must not be longer than the poll interval"),
        ({"labels": "job=x"}, "labels", "set by Opsboard"),
        ({"labels": "bad-name=x"}, "labels", "not a valid label name"),
        ({"labels": "no separator"}, "labels", "write key=value"),
        ({"interval_s": "0"}, "interval_s", "greater than or equal to 1"),
        ({"cfg_prometheus_family": "bogus"}, None, "family"),
    ],
)
def test_bad_settings_are_named_next_to_their_field(change: dict, field: str | None, message: str, editor) -> None:
    response = client_for(editor).post(reverse("monitoring:models_create"), {**FORM, **change})
    assert response.status_code == 400
    errors = response.context["form"].errors
    messages = errors[field] if field else [m for field_errors in errors.values() for m in field_errors]
    assert message in " ".join(messages)
    assert not ModelEndpoint.objects.exists()


def test_the_name_is_unique(editor) -> None:
    client = client_for(editor)
    client.post(reverse("monitoring:models_create"), FORM)
    response = client.post(reverse("monitoring:models_create"), FORM)
    assert response.status_code == 400
    assert "already exists" in str(response.context["form"].errors["name"])


def test_secret_headers_are_never_shown_back_and_kept_when_unchanged(editor) -> None:
    client = client_for(editor)
    client.post(reverse("monitoring:models_create"), FORM)
    target = ModelEndpoint.objects.get()
    edit_page = client.get(reverse("monitoring:models_edit", args=[target.uid])).content.decode()
    assert "s3cret" not in edit_page and f"Authorization: {MASK}" in edit_page
    detail = client.get(reverse("monitoring:models_detail", args=[target.uid])).content.decode()
    assert "s3cret" not in detail
    form = {**FORM, "headers": f"Authorization: {MASK}\nX-Extra: 1", "interval_s": "30", "timeout_s": "10"}
    assert client.post(reverse("monitoring:models_edit", args=[target.uid]), form).status_code == 302
    target.refresh_from_db()
    assert target.headers == {"Authorization": "Bearer s3cret", "X-Extra": "1"}
    assert target.interval_s == 30
    event = AuditEvent.objects.get(action="modelendpoint.update")
    assert event.changes["before"]["interval_s"] == 15 and event.changes["after"]["interval_s"] == 30


def test_the_list_and_detail_show_the_last_poll(viewer, db) -> None:
    target = ModelEndpoint.objects.create(
        name="tgi",
        url="http://h/metrics",
        last_up=False,
        last_error="HTTP 500 from http://h/metrics",
        last_sample_count=3,
    )
    client = client_for(viewer)
    listing = client.get(reverse("monitoring:models")).content.decode()
    assert "tgi" in listing and "HTTP 500 from" in listing and 'class="state down"' in listing
    detail = client.get(reverse("monitoring:models_detail", args=[target.uid])).content.decode()
    assert "HTTP 500 from http://h/metrics" in detail
    assert "Edit" not in detail  # a Viewer is not offered what the server would refuse


def test_a_local_node_needs_no_url(editor) -> None:
    form = {
        "name": "worker-box",
        "kind": "local",
        "url": "",
        "interval_s": "15",
        "timeout_s": "10",
        "series_limit": "10000",
        "queue": "polls",
        "enabled": "on",
    }
    assert client_for(editor).post(reverse("monitoring:nodes_create"), form).status_code == 302
    assert GpuNode.objects.get().kind == "local"


def test_deleting_is_audited_and_keeps_the_series(editor) -> None:
    client = client_for(editor)
    client.post(reverse("monitoring:models_create"), FORM)
    target = ModelEndpoint.objects.get()
    assert client.post(reverse("monitoring:models_delete", args=[target.uid])).status_code == 302
    assert not ModelEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="modelendpoint.delete", object_id=str(target.uid)).exists()


def api(user, scopes: list[str]) -> Client:
    _, secret = services.create_token(user=user, name="t", scopes=scopes, by=Actor.system("test"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_the_api_creates_reads_updates_and_deletes(editor) -> None:
    client = api(editor, ["read", "write"])
    body = {
        "name": "dcgm-a",
        "kind": "dcgm-exporter",
        "url": "http://10.1.1.1:9400/metrics",
        "headers": {"Authorization": "Bearer t0ken"},
        "labels": {"rack": "r1"},
    }
    created = client.post("/api/v1/nodes", body, content_type="application/json")
    assert created.status_code == 201, created.content
    uid = created.json()["id"]
    assert created.json()["headers"] == {"Authorization": MASK}
    assert created.json()["state"] == "pending"
    changed = client.patch(f"/api/v1/nodes/{uid}", {"interval_s": 30, "timeout_s": 20}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["interval_s"] == 30
    assert GpuNode.objects.get().headers == {"Authorization": "Bearer t0ken"}
    assert client.get("/api/v1/nodes").json()[0]["name"] == "dcgm-a"
    assert client.delete(f"/api/v1/nodes/{uid}").status_code == 204
    actions = list(AuditEvent.objects.filter(object_id=uid).order_by("id").values_list("action", flat=True))
    assert actions == ["gpunode.create", "gpunode.update", "gpunode.delete"]


def test_the_api_names_bad_fields(editor) -> None:
    client = api(editor, ["read", "write"])
    response = client.post(
        "/api/v1/models",
        {"name": "x", "kind": "prometheus", "url": "ftp://x/metrics", "interval_s": 5, "timeout_s": 9},
        content_type="application/json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert "only http and https" in errors["url"][0]
    assert "poll interval" in errors["timeout_s"][0]


def test_a_viewer_reads_but_cannot_change_targets(viewer, db) -> None:
    ModelEndpoint.objects.create(name="m", url="http://h/metrics")
    client = api(viewer, ["read", "write"])
    assert client.get("/api/v1/models").status_code == 200
    response = client.post(
        "/api/v1/models", {"name": "y", "kind": "http", "url": "http://h"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_a_torchscript_probe_takes_a_file_path(editor) -> None:
    form = {
        "name": "cnn-probe",
        "kind": "torchscript",
        "url": "/srv/models/cnn.pt2",
        "interval_s": "15",
        "timeout_s": "10",
        "series_limit": "10000",
        "queue": "polls",
        "enabled": "on",
    }
    assert client_for(editor).post(reverse("monitoring:models_create"), form).status_code == 302
    response = client_for(editor).post(reverse("monitoring:models_create"), {**form, "name": "b", "url": "cnn.pt2"})
    assert response.status_code == 400
    assert "not an absolute path" in response.context["form"].errors["url"][0]
