"""Training runs: started and finished through the API, followed through their samples,
stalled when silent, shown on their pages."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import runs
from monitoring.models import TrainingRun
from opsboard.accounts import services
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.conftest import client_for


def token_client(user, scopes: list[str]) -> Client:
    _, secret = services.create_token(user=user, name="sdk", scopes=scopes, by=Actor.system("test"))
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def sdk(viewer) -> Client:
    return token_client(viewer, ["ingest"])


def start(client: Client, **body: object) -> dict:
    payload = {"name": "cnn-1", "project": "mnist", "config": {"lr": 0.01}, **body}
    response = client.post("/api/v1/runs", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_run_starts_and_finishes_through_the_api(sdk, viewer) -> None:
    run = start(sdk)
    assert run["status"] == "running" and run["config"] == {"lr": 0.01}
    finished = sdk.post(f"/api/v1/runs/{run['id']}/finish", {"status": "finished"}, content_type="application/json")
    assert finished.status_code == 200 and finished.json()["status"] == "finished"
    stored = TrainingRun.objects.get(uid=run["id"])
    assert stored.ended_at is not None and stored.created_by == viewer
    actions = list(AuditEvent.objects.filter(object_id=run["id"]).order_by("id").values_list("action", flat=True))
    assert actions == ["trainingrun.start", "trainingrun.finished"]


def test_finishing_twice_changes_nothing_and_bad_status_is_400(sdk) -> None:
    run = start(sdk)
    url = f"/api/v1/runs/{run['id']}/finish"
    sdk.post(url, {"status": "failed"}, content_type="application/json")
    assert sdk.post(url, {"status": "finished"}, content_type="application/json").json()["status"] == "failed"
    assert sdk.post(url, {"status": "exploded"}, content_type="application/json").status_code == 400


def test_a_read_token_cannot_start_a_run_but_can_list_them(viewer) -> None:
    reader = token_client(viewer, ["read"])
    assert (
        reader.post("/api/v1/runs", {"name": "x", "project": "p"}, content_type="application/json").status_code == 403
    )
    assert reader.get("/api/v1/runs").status_code == 200


def test_missing_fields_are_named(sdk) -> None:
    response = sdk.post("/api/v1/runs", {"project": "p"}, content_type="application/json")
    assert response.status_code == 400 and "name" in response.json()


def test_pushed_steps_move_the_run_forward(sdk, django_capture_on_commit_callbacks) -> None:
    run = start(sdk)
    labels = {"run": "cnn-1", "project": "mnist", "run_id": run["id"]}
    now = time.time()
    samples = [{"name": "train_step", "labels": labels, "value": step, "ts": now + step} for step in (1, 2, 3)]
    samples.append({"name": "train_loss", "labels": labels, "value": "NaN", "ts": now + 3})
    with django_capture_on_commit_callbacks(execute=True):
        response = sdk.post("/api/v1/push", json.dumps({"samples": samples}), content_type="application/json")
    assert response.status_code == 200
    stored = TrainingRun.objects.get(uid=run["id"])
    assert stored.last_step == 3 and stored.last_seen_at is not None


def test_silent_runs_stall_and_wake_when_they_report_again(db, settings) -> None:
    settings.RUN_STALL_AFTER_S = 600
    run = runs.start_run(name="r", project="p", config={}, by=Actor.system("test"))
    TrainingRun.objects.filter(pk=run.pk).update(last_seen_at=timezone.now() - timedelta(minutes=11))
    fresh = runs.start_run(name="fresh", project="p", config={}, by=Actor.system("test"))
    assert runs.mark_stalled() == 1
    assert TrainingRun.objects.get(pk=run.pk).status == "stalled"
    assert TrainingRun.objects.get(pk=fresh.pk).status == "running"
    runs._advance(str(run.uid), 5, timezone.now())
    assert TrainingRun.objects.get(pk=run.pk).status == "running"
    actions = list(AuditEvent.objects.filter(object_id=str(run.uid)).values_list("action", flat=True).order_by("id"))
    assert actions[-2:] == ["trainingrun.stalled", "trainingrun.running"]


def test_run_pages_list_filter_and_show_a_run(viewer, db) -> None:
    run = runs.start_run(name="cnn-7", project="mnist", config={"lr": 0.1}, by=Actor.system("test"))
    runs.start_run(name="other", project="cifar", config={}, by=Actor.system("test"))
    client = client_for(viewer)
    listing = client.get(reverse("monitoring:runs"), {"project": "mnist"}).content.decode()
    assert "cnn-7" in listing and "other" not in listing
    detail = client.get(reverse("monitoring:run", args=[run.uid])).content.decode()
    assert "cnn-7" in detail and "0.1" in detail
