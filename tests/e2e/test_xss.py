"""Stored XSS in a real browser: hostile text in every name, label value, annotation, note
and payload a user can store, shown on every page that shows it, including what JavaScript
draws (Plotly's legends and hover labels, the live incident list refreshed over the socket).

On each page: no dialog opened, no element carries an event-handler attribute, a
``javascript:`` link or a script with the payload, and the text reads literally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from alerts.models import Notification
from opsboard.accounts import roles, services
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import evaluate, temps
from tests.e2e.conftest import LiveServer, browser_user, in_thread, sign_in, wait_charts_ready
from tests.e2e.test_screenshots import assert_drawn, open_charts
from tests.security.world import HOSTILE, World, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Anything the payload could have made the page run or link to.
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const value = attr.value.trim().toLowerCase();
      if (attr.name.startsWith("on")) found.push(el.tagName + " " + attr.name);
      if (/^(href|src|xlink:href|action|formaction)$/.test(attr.name) && value.startsWith("javascript:"))
        found.push(el.tagName + " " + attr.name + "=" + value);
    }
  }
  for (const s of document.scripts) {
    const runnable = !s.type || /javascript|module/.test(s.type);
    if (runnable && s.textContent.includes("alert(")) found.push("script " + s.textContent.slice(0, 80));
  }
  if (document.querySelector("img[src='x']")) found.push("img src=x");
  return found;
}"""
# The text of the page as shown, SVG (Plotly) included.
SHOWN = """() => [document.body.innerText, ...[...document.querySelectorAll("svg text")].map((t) => t.textContent)]
  .join("\\n")"""


def hostile_world(server_url: str) -> World:
    """The world, its incident paged to the server's own receiver, and a sibling run to overlay."""
    from alerts import delivery
    from monitoring.models import TrainingRun

    admin = browser_user("ada", roles.ADMIN)
    world = build_world(admin, text=HOSTILE, now_ms=int(time.time() * 1000), receiver=server_url)
    for notification in Notification.objects.filter(incident=world.incident, kind="webhook"):
        delivery.deliver(notification.pk)
    TrainingRun.objects.create(name=f"sibling {HOSTILE}", project=world.run.project)
    return world


def ingest_token() -> str:
    from opsboard.accounts.models import User

    owner = User.objects.get(username="ada")
    return services.create_token(user=owner, name="push", scopes=["ingest"], by=Actor.system("test"))[1]


def push_hostile_labels(server: LiveServer) -> None:
    """Two series told apart only by a hostile label value, half an hour of them, through the
    real push API."""
    secret = in_thread(ingest_token)
    now = time.time()
    samples = [
        {"name": "xss_probe", "labels": {"who": who}, "value": v + i % 3, "ts": now - 60 * i}
        for who, v in ((HOSTILE, 1), ("plain", 5))
        for i in range(30)
    ]
    headers = {"Authorization": f"Bearer {secret}"}
    response = httpx.post(f"{server.url}/api/v1/push", json={"samples": samples}, headers=headers)
    assert response.status_code == 200, response.text


@pytest.fixture
def watched(context: Any) -> Iterator[tuple[Any, list[str]]]:
    dialogs: list[str] = []
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message} at {page.url}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page, dialogs


def assert_safe(page: Any, dialogs: list[str], where: str, literal: str = HOSTILE) -> None:
    page.wait_for_timeout(200)  # an onerror fires once the broken image has failed
    assert dialogs == [], where
    assert page.evaluate(INJECTED) == [], where
    assert literal in page.evaluate(SHOWN), f"{where} does not show the text literally"


def pages(w: World) -> list[tuple[str, str]]:
    """Pages with their hostile text drawn by the server, each with no chart to wait for."""
    return [
        ("/", "overview"),
        ("/models/", "models"),
        ("/nodes/", "nodes"),
        ("/runs/", "runs"),
        ("/alerts/", "alerts"),
        (f"/alerts/rules/{w.rule.uid}/", "rule"),
        (f"/alerts/rules/{w.rule.uid}/versions/1/", "rule version"),
        ("/alerts/silences/", "silences"),
        ("/receiver/", "receiver"),
        ("/oncall/", "on-call"),
        (f"/oncall/schedules/{w.schedule.uid}/", "schedule"),
        ("/oncall/policies/", "policies"),
        (f"/oncall/policies/{w.policy.uid}/", "policy"),
        ("/oncall/channels/", "channels"),
        ("/audit/", "audit"),
        ("/tokens/", "tokens"),
    ]


def test_hostile_text_stays_text_on_every_page(asgi_server: LiveServer, watched: tuple[Any, list[str]]) -> None:
    page, dialogs = watched
    world = in_thread(hostile_world, asgi_server.url)
    sign_in(page, asgi_server, "ada")
    for path, name in pages(world):
        page.goto(asgi_server.url + path)
        assert_safe(page, dialogs, name)


def test_charts_draw_hostile_names_as_text(asgi_server: LiveServer, watched: tuple[Any, list[str]]) -> None:
    """Plotly reads a subset of HTML in names; a hostile name or label value stays literal in
    legends and hover labels."""
    page, dialogs = watched
    world = in_thread(hostile_world, asgi_server.url)
    push_hostile_labels(asgi_server)
    sign_in(page, asgi_server, "ada")
    for path in (f"/models/{world.model.uid}/", f"/nodes/{world.node.uid}/", f"/incidents/{world.incident.uid}/"):
        open_charts(page, asgi_server.url + path)
        assert_safe(page, dialogs, path)

    assert_drawn(open_charts(page, f"{asgi_server.url}/explore/?query=xss_probe"))
    assert_safe(page, dialogs, "explore legend", literal=f"who={HOSTILE}")
    assert f"who={HOSTILE}" in hover_text(page)
    assert_safe(page, dialogs, "explore hover", literal=f"who={HOSTILE}")

    open_charts(page, f"{asgi_server.url}/runs/{world.run.uid}/")
    page.click("details.overlay summary")
    page.locator("#overlay-runs input[type=checkbox]").first.check()
    wait_charts_ready(page)
    page.wait_for_function("() => document.querySelectorAll('.legendtext').length > 1")
    assert_safe(page, dialogs, "run overlay", literal=f"sibling {HOSTILE}")


def hover_text(page: Any) -> str:
    """The hover label of the first chart, with the pointer over the middle of its plot area."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".hoverlayer text")
    return page.evaluate("() => document.querySelector('.hoverlayer').textContent")


def test_the_rule_editor_preview_draws_hostile_labels_as_text(
    asgi_server: LiveServer, watched: tuple[Any, list[str]]
) -> None:
    page, dialogs = watched
    world = in_thread(hostile_world, asgi_server.url)
    in_thread(temps, 50.0, node="plain")  # a second series, so that the preview shows its legend
    sign_in(page, asgi_server, "ada")
    page.goto(f"{asgi_server.url}/alerts/rules/{world.rule.uid}/edit/")
    page.wait_for_function("() => document.querySelectorAll('#preview-chart .legendtext').length === 2")
    assert_safe(page, dialogs, "rule editor", literal=f"node=node {HOSTILE}")


def test_the_live_incident_list_keeps_hostile_text_literal(
    asgi_server: LiveServer, watched: tuple[Any, list[str]]
) -> None:
    """The list is refreshed from the server over the socket: the new row arrives as HTML."""
    page, dialogs = watched
    world = in_thread(hostile_world, asgi_server.url)
    sign_in(page, asgi_server, "ada")
    page.goto(f"{asgi_server.url}/incidents/")
    page.wait_for_selector("#incidents-live[data-state=live]")
    assert_safe(page, dialogs, "incident list")
    in_thread(lambda: evaluate(world.rule, temps(95.0, node=f"second {HOSTILE}")))
    page.locator("#incident-table tbody tr").nth(1).wait_for(timeout=10_000)
    assert_safe(page, dialogs, "incident list, refreshed", literal=f"second {HOSTILE}")
    page.goto(f"{asgi_server.url}/incidents/{world.incident.uid}/")
    assert_safe(page, dialogs, "incident", literal=f"note {HOSTILE}")
