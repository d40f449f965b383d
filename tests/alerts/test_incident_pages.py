"""The incident pages and API: the list (open first, filters, the live fragment), one
incident with its chart, timeline and actions, and Opsboard's own webhook receiver."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from alerts import incidents
from alerts.models import Incident, ReceivedNotification
from alerts.transports.webhook import signature
from monitoring.models import ModelEndpoint
from opsboard.accounts import services
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import fire, make_policy, make_rule, webhook_channel
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(responder) -> list[Incident]:
    """A resolved warning, a triggered critical on gpu-2, an acknowledged warning on gpu-3."""
    make_policy(webhook_channel("team", "http://127.0.0.1:9/hook"))
    by = Actor(responder, None, responder.username)
    old = fire(make_rule("Old", severity="warning", expression='gpu_temp{node="gpu-1"}'), node="gpu-1")
    incidents.resolve(old, by=by)
    hot = fire(make_rule("Hot", severity="critical", expression='gpu_temp{node="gpu-2"}'), node="gpu-2")
    slow = fire(make_rule("Slow", severity="warning", expression='gpu_temp{node="gpu-3"}'), node="gpu-3")
    incidents.acknowledge(slow, by=by)
    incidents.reassign(slow, responder, by=by)
    return [old, hot, slow]


def codes(response) -> list[str]:
    return [i.code for i in response.context["incidents"]]


def test_the_list_shows_open_incidents_newest_first(three, viewer) -> None:
    old, hot, slow = three
    response = client_for(viewer).get("/incidents/")
    assert response.status_code == 200
    assert codes(response) == [slow.code, hot.code]
    everything = client_for(viewer).get("/incidents/?status=all")
    assert codes(everything) == [slow.code, hot.code, old.code]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=triggered", ["Hot"]),
        ("status=acknowledged", ["Slow"]),
        ("status=resolved", ["Old"]),
        ("severity=critical", ["Hot"]),
        ("status=all&severity=warning", ["Slow", "Old"]),
        ("assignee=rosa", ["Slow"]),
    ],
)
def test_the_list_filters(three, viewer, query: str, expected: list[str]) -> None:
    response = client_for(viewer).get(f"/incidents/?{query}")
    assert [i.title.split(" ")[0] for i in response.context["incidents"]] == expected


def test_the_list_filters_by_model(viewer, db) -> None:
    rule = make_rule("Latency", expression="latency", group_by=("model",))
    from monitoring import store
    from monitoring.samples import sample
    from tests.alerts.incident_kit import evaluate, now_ms

    at = now_ms()
    store.write([sample("latency", {"model": m}, at, 100) for m in ("llama", "mistral")])
    rule.condition = {"op": ">", "value": 50}
    evaluate(rule, at)
    response = client_for(viewer).get("/incidents/?model=llama")
    assert [i.group_labels for i in response.context["incidents"]] == [{"model": "llama"}]


def test_the_fragment_is_only_the_table(three, viewer) -> None:
    response = client_for(viewer).get("/incidents/?fragment=1")
    assert b"<table" in response.content and b"<html" not in response.content


def test_the_navigation_counts_open_incidents(three, viewer) -> None:
    response = client_for(viewer).get("/")
    nav = {item["label"]: item for item in response.context["nav_items"]}
    assert nav["Incidents"]["count"] == 2


def test_the_incident_page_has_the_chart_the_rule_and_the_timeline(three, viewer) -> None:
    hot = three[1]
    response = client_for(viewer).get(f"/incidents/{hot.uid}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"/alerts/rules/{hot.rule.uid}/" in body
    charts = response.context["charts"]
    assert charts["panels"][0]["traces"][0]["query"] == 'gpu_temp{node="gpu-2"}'
    opened = int(hot.opened_at.timestamp())
    assert charts["window"]["from"] == opened - 1800 and charts["window"]["to"] > opened
    assert "fired" in body and "Acknowledge" not in body  # a Viewer cannot respond


def test_the_incident_page_links_to_its_target(viewer, db) -> None:
    model = ModelEndpoint.objects.create(name="llama", url="http://127.0.0.1:9/v1", kind="openai")
    rule = make_rule("Latency", expression="latency", group_by=("model",), condition={"op": ">", "value": 50})
    from monitoring import store
    from monitoring.samples import sample
    from tests.alerts.incident_kit import evaluate, now_ms

    at = now_ms()
    store.write([sample("latency", {"model": "llama"}, at, 100)])
    evaluate(rule, at)
    incident = Incident.objects.get()
    body = client_for(viewer).get(f"/incidents/{incident.uid}/").content.decode()
    assert f"/models/{model.uid}/" in body


def test_a_responder_acknowledges_with_a_comment(three, responder) -> None:
    hot = three[1]
    client = client_for(responder)
    assert b"Acknowledge" in client.get(f"/incidents/{hot.uid}/").content
    response = client.post(f"/incidents/{hot.uid}/ack/", {"comment": "fans at 100%"})
    assert response.status_code == 302
    hot.refresh_from_db()
    assert hot.status == Incident.ACKNOWLEDGED
    assert hot.events.get(kind="acknowledged").text == "fans at 100%"
    assert AuditEvent.objects.filter(action="incident.acknowledge", actor=responder).exists()


def test_notes_assignment_and_silence_from_the_page(three, responder, editor) -> None:
    hot = three[1]
    client = client_for(responder)
    client.post(f"/incidents/{hot.uid}/note/", {"comment": "reseated the card"})
    client.post(f"/incidents/{hot.uid}/assign/", {"assignee": editor.username})
    client.post(
        f"/incidents/{hot.uid}/silence/", {"matchers": 'node="gpu-2"', "hours": "1", "expire_with_incident": "on"}
    )
    hot.refresh_from_db()
    assert hot.assignee == editor
    silence = hot.silences.get()
    assert silence.expire_with_incident and silence.matchers == '{node="gpu-2"}'
    assert {"note", "assigned"} <= set(hot.events.values_list("kind", flat=True))


def test_a_bad_silence_from_the_page_says_why(three, responder) -> None:
    hot = three[1]
    response = client_for(responder).post(
        f"/incidents/{hot.uid}/silence/", {"matchers": "node=", "hours": "x"}, follow=True
    )
    assert response.status_code == 200
    assert not hot.silences.exists()
    assert any("matchers" in str(m) or "hours" in str(m) for m in response.context["messages"])


def test_a_viewer_cannot_act(three, viewer) -> None:
    hot = three[1]
    assert client_for(viewer).post(f"/incidents/{hot.uid}/ack/").status_code == 403
    hot.refresh_from_db()
    assert hot.status == Incident.TRIGGERED


def test_the_api_lists_and_acknowledges(three, responder, viewer) -> None:
    _, secret = services.create_token(user=viewer, name="read", scopes=["read"], by=Actor.system("test"))
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = reader.get("/api/v1/incidents").json()
    assert [i["code"] for i in listed] == [three[2].code, three[1].code]
    detail = reader.get(f"/api/v1/incidents/{three[1].uid}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["fired"]
    assert reader.post(f"/api/v1/incidents/{three[1].uid}/ack").status_code == 403
    _, secret = services.create_token(user=responder, name="w", scopes=["write"], by=Actor.system("test"))
    writer = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    noted = writer.post(f"/api/v1/incidents/{three[1].uid}/notes", {"comment": ""}, content_type="application/json")
    assert noted.status_code == 400 and "comment" in noted.json()
    resolved = writer.post(f"/api/v1/incidents/{three[1].uid}/resolve", {}, content_type="application/json")
    assert resolved.json()["status"] == "resolved"


def signed_post(channel, body: dict, secret: str):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    return Client().post(
        f"/receiver/{channel.uid}",
        raw,
        content_type="application/json",
        HTTP_X_OPSBOARD_TIMESTAMP=stamp,
        HTTP_X_OPSBOARD_SIGNATURE=signature(secret, stamp, raw),
    )


def test_the_receiver_keeps_signed_messages_and_refuses_others(viewer, db) -> None:
    channel = webhook_channel("demo", "http://127.0.0.1:8000/receiver/x", secret="s")
    assert signed_post(channel, {"event": "triggered", "delivery_id": "d1"}, "s").status_code == 200
    assert signed_post(channel, {"event": "triggered"}, "wrong").status_code == 401
    received = ReceivedNotification.objects.get()
    assert (received.event, received.delivery_id, received.signature_ok) == ("triggered", "d1", True)
    page = client_for(viewer).get("/receiver/")
    assert b"d1" in page.content
