"""Incidents in a real browser: a new incident appears on an open list without a reload, the
navigation's count follows, and a Responder's acknowledgement shows on a second browser."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import Incident
from opsboard.accounts import roles
from tests.alerts.incident_kit import fire, make_policy, make_rule, webhook_channel
from tests.e2e.conftest import LiveServer, browser_user, in_thread, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def open_incident() -> Incident:
    make_policy(webhook_channel("team", "http://127.0.0.1:9/hook"))
    return fire(make_rule("GPUHot", severity="critical"), node="gpu-7")


def test_a_responder_acknowledges_while_another_browser_watches_the_list(browser: Any, asgi_server: LiveServer) -> None:
    in_thread(browser_user, "rosa", roles.RESPONDER)
    in_thread(browser_user, "vic", roles.VIEWER)
    watcher = browser.new_context().new_page()
    sign_in(watcher, asgi_server, "vic")
    watcher.goto(f"{asgi_server.url}/incidents/")
    watcher.wait_for_selector("#incidents-live[data-state=live]")
    assert watcher.locator("#incident-count").inner_text() == "0"

    incident = in_thread(open_incident)
    row = watcher.locator(f"tr[data-incident='{incident.uid}']")
    row.wait_for(timeout=10_000)  # no reload
    assert "triggered" in row.text_content() and "GPUHot" in row.text_content()
    watcher.wait_for_function("() => document.getElementById('incident-count').textContent === '1'")
    reloads = watcher.evaluate("() => performance.getEntriesByType('navigation').length")

    responder = browser.new_context().new_page()
    sign_in(responder, asgi_server, "rosa")
    responder.goto(f"{asgi_server.url}/incidents/{incident.uid}/")
    responder.fill("form:has(#ack-button) input[name=comment]", "fans at full speed")
    responder.click("#ack-button")
    responder.wait_for_selector(".state.inc-acknowledged")
    assert "fans at full speed" in responder.locator("ol.timeline").inner_text()

    watcher.wait_for_function(
        f"() => document.querySelector(\"tr[data-incident='{incident.uid}']\").textContent.includes('acknowledged')",
        timeout=10_000,
    )
    assert watcher.evaluate("() => performance.getEntriesByType('navigation').length") == reloads
    in_thread(lambda: Incident.objects.filter(pk=incident.pk, acknowledged_by__username="rosa").get())


def test_a_viewer_sees_no_acknowledge_button(browser: Any, asgi_server: LiveServer) -> None:
    in_thread(browser_user, "vic", roles.VIEWER)
    incident = in_thread(open_incident)
    page = browser.new_context().new_page()
    sign_in(page, asgi_server, "vic")
    page.goto(f"{asgi_server.url}/incidents/{incident.uid}/")
    page.wait_for_selector("ol.timeline")
    assert page.locator("#ack-button").count() == 0


def incident_with_history(server_url: str) -> Incident:
    """An hour of GPU temperatures ending in a spike, a rule that fires on it, the demo's
    paging (its receiver inside the server under test), and the page delivered."""
    from alerts import delivery
    from alerts.demo import ensure_demo_paging
    from alerts.models import Notification
    from monitoring import store
    from monitoring.samples import sample
    from tests.alerts.incident_kit import evaluate, now_ms

    ensure_demo_paging(server_url)
    end = now_ms()
    history = [sample("gpu_temp", {"node": "gpu-7", "gpu": "0"}, end - i * 15_000, 62 + (i % 7)) for i in range(1, 240)]
    store.write([*history, sample("gpu_temp", {"node": "gpu-7", "gpu": "0"}, end, 93.5)])
    rule = make_rule("GPUHot", severity="critical")
    evaluate(rule, end)
    incident = Incident.objects.get(rule=rule)
    for notification in Notification.objects.filter(incident=incident, kind="webhook"):
        delivery.deliver(notification.pk)
    return incident


def test_screenshots_of_the_incident_and_on_call_pages(browser: Any, asgi_server: LiveServer) -> None:
    from tests.e2e.test_screenshots import assert_drawn, open_charts, shoot

    in_thread(browser_user, "ada", roles.ADMIN)
    incident = in_thread(incident_with_history, asgi_server.url)
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page, asgi_server, "ada")
    page.goto(f"{asgi_server.url}/incidents/")
    page.wait_for_selector("#incidents-live[data-state=live]")
    shoot(page, "incidents")
    assert_drawn(open_charts(page, f"{asgi_server.url}/incidents/{incident.uid}/"), least=200)
    assert "notified" in page.locator("ol.timeline").text_content()
    shoot(page, "incident")
    page.goto(f"{asgi_server.url}/receiver/")
    assert incident.code in page.text_content("main") and "verified" in page.text_content("main")
    shoot(page, "receiver")
    page.goto(f"{asgi_server.url}/oncall/")
    assert "ada" in page.text_content("main")
    shoot(page, "oncall")
