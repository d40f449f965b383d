"""Rule editing in the UI and the API: validation next to fields, versions with diffs and
reverts, the backtest preview, rule files in and out, silences, the default pack."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from alerts import default_rules, rules
from alerts.models import AlertRule, Silence
from monitoring import rollups, store
from monitoring.samples import sample
from opsboard.accounts import services
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.conftest import client_for

FORM = {
    "name": "GPU hot",
    "description": "",
    "expression": "avg_over_time(gpu_temp[2m])",
    "condition_kind": "threshold",
    "cond_threshold_op": ">",
    "cond_threshold_value": "85",
    "for_s": "300",
    "severity": "warning",
    "group_by": "node, gpu",
    "labels": "team=infra",
    "annotations": "summary=GPU {{ labels.gpu }} at {{ value }}",
    "runbook_url": "",
    "inhibited_by": "",
    "inhibit_equal": "",
    "enabled": "on",
}
NOW = int(time.time() * 1000)
RULE_FILES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"


def test_an_editor_creates_a_rule_audited_as_version_1(editor) -> None:
    response = client_for(editor).post(reverse("alerts:rule_create"), FORM)
    rule = AlertRule.objects.get()
    assert response.status_code == 302
    assert rule.condition == {"op": ">", "value": 85.0}
    assert rule.group_by == ["node", "gpu"] and rule.labels == {"team": "infra"}
    assert rule.versions.get().number == 1
    assert AuditEvent.objects.filter(action="alertrule.create", object_id=str(rule.uid)).exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"expression": "rate(x[5m]"}, "expression", "position"),
        ({"expression": "x > 5"}, "expression", "put the comparison in the condition"),
        ({"cond_threshold_value": "hot"}, "cond_threshold_value", "Enter a number"),
        ({"cond_threshold_op": "=>"}, None, "op"),
        ({"expression": "avg_over_time(x[30d])"}, "expression", "longer than raw samples are kept"),
        ({"annotations": "summary={{ labels.a.b }} {{ exec('x') }}"}, "annotations", "summary"),
        ({"inhibited_by": "node=="}, "inhibited_by", ""),
        ({"labels": "severity=page"}, "labels", "set from the rule"),
    ],
)
def test_every_bad_field_is_named(change: dict, field: str | None, message: str, editor) -> None:
    response = client_for(editor).post(reverse("alerts:rule_create"), {**FORM, **change})
    assert response.status_code == 400
    errors = response.context["form"].errors
    text = " ".join(errors[field]) if field else " ".join(m for ms in errors.values() for m in ms)
    assert message in text
    assert not AlertRule.objects.exists()


def test_versions_diff_and_revert(editor) -> None:
    client = client_for(editor)
    client.post(reverse("alerts:rule_create"), FORM)
    rule = AlertRule.objects.get()
    client.post(
        reverse("alerts:rule_edit", args=[rule.uid]), {**FORM, "cond_threshold_value": "90", "comment": "less noise"}
    )
    rule.refresh_from_db()
    assert rule.version == 2 and rule.condition["value"] == 90.0
    diff = client.get(reverse("alerts:rule_version", args=[rule.uid, 2])).content.decode()
    assert "85.0" in diff and "90.0" in diff
    assert client.post(reverse("alerts:rule_revert", args=[rule.uid, 1])).status_code == 302
    rule.refresh_from_db()
    assert rule.version == 3 and rule.condition["value"] == 85.0
    assert rule.versions.get(number=3).comment == "revert to v1"
    actions = list(AuditEvent.objects.filter(object_id=str(rule.uid)).order_by("id").values_list("action", flat=True))
    assert actions == ["alertrule.create", "alertrule.update", "alertrule.update"]


def test_the_preview_backtests_the_unsaved_form(editor) -> None:
    # An hour over 85 °C two hours ago, and one over it now: two firings in the week.
    start = NOW - 3 * 3_600_000
    rows = [
        sample("gpu_temp", {"node": "a", "gpu": "0"}, start + i * 60_000, 90.0 if i < 60 or i > 170 else 70.0)
        for i in range(181)
    ]
    store.write(rows)
    rollups.roll_up(NOW)
    form = {**FORM, "for_s": "0", "expression": "gpu_temp"}
    response = client_for(editor).post(reverse("alerts:rule_preview"), form)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["fired_7d"] == 2 and body["alerts_7d"] == 1
    assert body["lines"][0]["value"] == 85.0
    assert len(body["firing"]) == 2 and body["series"][0]["t"]


def test_the_preview_of_a_broken_form_names_the_fields(editor) -> None:
    response = client_for(editor).post(reverse("alerts:rule_preview"), {**FORM, "expression": "rate("})
    assert response.status_code == 400 and "expression" in response.json()["errors"]


def test_a_rule_file_round_trips_through_import_and_export(editor) -> None:
    client = client_for(editor)
    text = (RULE_FILES / "gpu_serving.rules.yml").read_text()
    response = client.post(reverse("alerts:rule_import"), {"text": text})
    assert response.status_code == 200
    created = response.context["created"]
    assert len(created) >= 3 and not response.context["refused"]
    assert AlertRule.objects.get(name="HighErrorRatio").severity == "critical"  # severity "page"
    exported = client.get(reverse("alerts:rule_export")).content.decode()
    AlertRule.objects.all().delete()
    again = client.post(reverse("alerts:rule_import"), {"text": exported})
    assert sorted(r.name for r in again.context["created"]) == sorted(r.name for r in created)


def test_unsupported_rules_are_refused_by_name(editor) -> None:
    response = client_for(editor).post(
        reverse("alerts:rule_import"), {"text": (RULE_FILES / "unsupported.rules.yml").read_text()}
    )
    refused = response.context["refused"]
    named = ["job:http_requests:rate5m", "FastRise", "MoreErrorsThanRequests", "SlowerThanLastWeek", "TopTalkers"]
    assert [message.split(" (line")[0] for message in refused] == [
        f"group mixed, rule {name}" for name in [*named, "NoComparison"]
    ]
    assert sorted(AlertRule.objects.values_list("name", flat=True)) == ["ErrorRatioHigh", "StillSupported"]


def test_a_responder_silences_and_ends_a_silence(responder) -> None:
    client = client_for(responder)
    response = client.post(
        reverse("alerts:silence_create"),
        {"matchers": 'node="gpu-3"', "duration": "02:00:00", "comment": "swapping a fan"},
    )
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert silence.matchers == '{node="gpu-3"}' and silence.ends_at > silence.starts_at
    client.post(reverse("alerts:silence_expire", args=[silence.uid]))
    silence.refresh_from_db()
    assert silence.expired_at is not None
    actions = list(
        AuditEvent.objects.filter(object_id=str(silence.uid)).values_list("action", flat=True).order_by("id")
    )
    assert actions == ["silence.create", "silence.expire"]


def test_a_recurring_maintenance_window_needs_no_end(responder) -> None:
    form = {
        "matchers": 'node=~"gpu-.*"',
        "comment": "weekly maintenance",
        "recurring": "on",
        "weekdays": ["6"],
        "window_start": "02:00",
        "window_duration": "02:00:00",
        "timezone": "Europe/Berlin",
    }
    assert client_for(responder).post(reverse("alerts:silence_create"), form).status_code == 302
    assert Silence.objects.get().recurrence["timezone"] == "Europe/Berlin"


def test_a_bad_silence_is_named(responder) -> None:
    posted = {"matchers": 'node="gpu-3', "duration": "02:00:00", "comment": "x"}
    response = client_for(responder).post(reverse("alerts:silence_create"), posted)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["matchers"]
    assert not Silence.objects.exists()


def test_the_api_manages_rules_and_lists_alerts(editor) -> None:
    _, secret = services.create_token(user=editor, name="t", scopes=["read", "write"], by=Actor.system("test"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {
        "name": "api rule",
        "expression": "up",
        "condition_kind": "threshold",
        "condition": {"op": "==", "value": 0},
    }
    created = client.post("/api/v1/rules", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    uid = created.json()["id"]
    bad = client.patch(f"/api/v1/rules/{uid}", json.dumps({"condition": {"op": "~"}}), content_type="application/json")
    assert bad.status_code == 400 and "condition" in bad.json()
    assert client.get("/api/v1/alerts").json() == []
    assert client.delete(f"/api/v1/rules/{uid}").status_code == 204
    assert not AlertRule.objects.filter(name="api rule").exists()
    audited = AuditEvent.objects.filter(object_id=uid).values_list("action", flat=True).order_by("id")
    assert list(audited) == ["alertrule.create", "alertrule.delete"]


def test_the_default_pack_is_installed_once(db) -> None:
    assert default_rules.install() == len(default_rules.PACK)
    assert default_rules.install() == 0
    AlertRule.objects.filter(name="GPU memory leak").delete()
    assert default_rules.install() == 0  # a deleted default rule stays deleted
    assert all(not rules.validate(rules.snapshot(rule)) for rule in AlertRule.objects.all())


def test_windows_inside_arithmetic_are_checked_against_retention(db) -> None:
    errors = rules.validate(
        {
            **dict.fromkeys(rules.EDITABLE),
            "name": "x",
            "condition_kind": "threshold",
            "condition": {"op": ">", "value": 1},
            "expression": "rate(x[400d]) / 2",
        }
    )
    assert "longer than raw samples are kept" in " ".join(errors["expression"])
