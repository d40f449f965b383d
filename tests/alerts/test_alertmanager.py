"""Alertmanager's webhook (version 4) through POST /api/v1/alertmanager: grouped into
incidents, paged and acknowledged like Opsboard's own, resolved by its resolved payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from alerts.models import ExternalAlert, Incident, Notification
from opsboard.accounts import services
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import make_policy, webhook_channel

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alertmanager"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def client_with(user, scopes: list[str]) -> Client:
    _, secret = services.create_token(user=user, name="alertmanager", scopes=scopes, by=Actor.system("test"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def alertmanager(viewer) -> Client:
    make_policy(webhook_channel("team", "http://127.0.0.1:9/hook"))
    return client_with(viewer, ["ingest"])


def post(client: Client, body: object) -> tuple[int, dict]:
    response = client.post("/api/v1/alertmanager", body, content_type="application/json")
    return response.status_code, response.json()


def test_a_firing_group_opens_one_incident_that_pages(alertmanager) -> None:
    status, answer = post(alertmanager, payload("firing"))
    assert status == 200 and (answer["firing"], answer["resolved"]) == (2, 0)
    incident = Incident.objects.get()
    assert [str(incident.uid)] == answer["incidents"]
    assert (incident.source, incident.severity) == ("alertmanager", "critical")
    assert incident.title == "GPUXidErrors (alertname=GPUXidErrors, cluster=train-a)"
    assert incident.summary == "XID 79 on gpu-7 GPU 3"
    assert incident.group_labels == {"alertname": "GPUXidErrors", "cluster": "train-a"}
    assert ExternalAlert.objects.filter(incident=incident).count() == 2
    assert list(Notification.objects.filter(incident=incident).values_list("event", flat=True)) == ["triggered"]


def test_repeated_notifications_of_the_group_page_once(alertmanager) -> None:
    for _ in range(3):
        post(alertmanager, payload("firing"))
    assert Incident.objects.count() == 1
    assert Notification.objects.count() == 1


def test_the_incident_resolves_when_alertmanager_resolves_every_alert(alertmanager) -> None:
    post(alertmanager, payload("firing"))
    status, answer = post(alertmanager, payload("partly_resolved"))
    assert (status, answer["firing"], answer["resolved"]) == (200, 1, 1)
    assert Incident.objects.get().status == Incident.TRIGGERED
    post(alertmanager, payload("resolved"))
    incident = Incident.objects.get()
    assert incident.status == Incident.RESOLVED
    assert "Alertmanager resolved" in incident.events.get(kind="resolved").text
    assert list(Notification.objects.order_by("id").values_list("event", flat=True)) == ["triggered", "resolved"]


def test_an_alertmanager_incident_is_acknowledged_like_any_other(alertmanager, responder) -> None:
    post(alertmanager, payload("firing"))
    incident = Incident.objects.get()
    response = client_with(responder, ["write"]).post(
        f"/api/v1/incidents/{incident.uid}/ack", {"comment": "on it"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["acknowledged_by"]) == ("acknowledged", responder.username)


def test_severity_labels_map_to_opsboard_severities(alertmanager) -> None:
    body = payload("firing")
    for alert in body["alerts"]:
        alert["labels"]["severity"] = "warning"
    post(alertmanager, body)
    assert Incident.objects.get().severity == "warning"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(version="3"), "version '3'"),
        (lambda b: b.update(alerts="nope"), "alerts must be a list"),
        (lambda b: b["alerts"][1].update(status="pending"), "alerts[1].status must be firing or resolved"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda b: b["alerts"][0].pop("labels"), "alerts[0] must be an object with labels"),
    ],
)
def test_a_malformed_payload_is_refused_naming_what_is_wrong(alertmanager, change, message) -> None:
    body = payload("firing")
    change(body)
    status, answer = post(alertmanager, body)
    assert status == 400 and message in answer["error"]
    assert Incident.objects.count() == 0 and ExternalAlert.objects.count() == 0


def test_a_payload_half_bad_keeps_nothing(alertmanager) -> None:
    body = payload("firing")
    body["alerts"][1]["endsAt"] = "later"
    body["alerts"][1]["status"] = "resolved"
    assert post(alertmanager, body)[0] == 400
    assert Incident.objects.count() == 0 and Notification.objects.count() == 0


def test_only_a_token_with_the_ingest_scope_is_accepted(viewer) -> None:
    assert Client().post("/api/v1/alertmanager", {}, content_type="application/json").status_code == 401
    assert post(client_with(viewer, ["read"]), payload("firing"))[0] == 403
    assert Incident.objects.count() == 0
