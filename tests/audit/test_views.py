"""The Admin's audit page: filters, pages, CSV export, API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from opsboard.audit.services import Actor, record


def seed(admin) -> None:
    for i in range(60):
        record("thing.touch", by=Actor.for_user(admin), object_type="thing", object_id=str(i), object_repr=f"t{i}")
    record("user.role_change", by=Actor.system("test"), object_type="user", object_repr="vic")


def test_audit_page_paginates_newest_first(admin_client, admin) -> None:
    seed(admin)
    response = admin_client.get(reverse("audit:list"))
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 61
    assert len(page.object_list) == 50
    assert page.object_list[0].action == "user.role_change"


def test_audit_page_filters_by_actor_action_object_and_time(admin_client, admin) -> None:
    seed(admin)
    url = reverse("audit:list")
    assert admin_client.get(url, {"actor": "system:test"}).context["page"].paginator.count == 1
    assert admin_client.get(url, {"action": "thing.touch"}).context["page"].paginator.count == 60
    assert admin_client.get(url, {"object_type": "user"}).context["page"].paginator.count == 1
    future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert admin_client.get(url, {"since": future}).context["page"].paginator.count == 0


def test_a_bad_time_filter_is_named(admin_client, admin) -> None:
    response = admin_client.get(reverse("audit:list"), {"since": "yesterday-ish"})
    assert response.status_code == 400
    assert "since" in response.content.decode()


def test_csv_export_has_every_matching_event_and_neutralises_formulas(admin_client, admin) -> None:
    seed(admin)
    record("thing.create", by=Actor.system("test"), object_repr="=HYPERLINK(evil)")
    response = admin_client.get(reverse("audit:export"), {"actor": "system:test"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["user.role_change", "thing.create"]
    assert rows[1]["object"] == "'=HYPERLINK(evil)"


def test_audit_api_filters_and_paginates(admin_client, admin) -> None:
    seed(admin)
    body = admin_client.get("/api/v1/audit", {"action": "thing.touch", "limit": 10}).json()
    assert body["count"] == 60
    assert len(body["results"]) == 10
    assert admin_client.get("/api/v1/audit", {"until": "not a time"}).status_code == 400
