"""Live charts in a real browser: pushed points appear at once, an outage loses and doubles
nothing, and the live socket refuses who may not watch."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from monitoring import live, store
from monitoring.models import ModelEndpoint
from monitoring.samples import sample
from opsboard.accounts import roles
from opsboard.accounts.models import User
from opsboard.accounts.services import create_token
from opsboard.audit.services import Actor
from tests.e2e.conftest import LiveServer, browser_user, in_thread, sign_in, wait_charts_ready, wait_live
from tests.e2e.seed import model_endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WATCHED_CACHE_S = 1.2  # writers re-read the watched names once a second

UP_TIMESTAMPS = """() => {
  const state = window.Opsboard.charts.up;
  const trace = state.div.data.find((t) => t.name === "up");
  return trace ? Array.from(trace.x) : [];
}"""

RECORD_STATES = """() => {
  window.__states = [document.getElementById("live-indicator").dataset.state];
  new MutationObserver(() => window.__states.push(document.getElementById("live-indicator").dataset.state))
    .observe(document.getElementById("live-indicator"), {attributes: true, attributeFilter: ["data-state"]});
}"""

RECORD_DRAWN = """() => {
  window.__drawn = [];
  document.addEventListener("opsboard:drawn", (e) => window.__drawn.push(e.detail));
}"""

OPEN_SOCKET = """() => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}/ws/live`);
  const seen = {opened: false, messages: 0};
  ws.onopen = () => {
    seen.opened = true;
    ws.send(JSON.stringify({type: "subscribe", selectors: ['up{model="m"}']}));
  };
  ws.onmessage = () => (seen.messages += 1);
  ws.onclose = (event) => resolve({...seen, code: event.code});
  setTimeout(() => resolve({...seen, code: null}), 5000);
})"""


def write_up(name: str, stamps: list[int], value: float = 1.0) -> None:
    live.forget_watched_cache()  # this process's view of the watched names may be a second old
    store.write([sample("up", {"model": name}, ts, value) for ts in stamps])


def model_with_up(name: str, first_ts: int) -> ModelEndpoint:
    endpoint = model_endpoint(name)
    write_up(name, [first_ts])
    return endpoint


def open_model_page(page: Any, server: LiveServer, endpoint: ModelEndpoint, username: str = "ada") -> None:
    sign_in(page, server, username)
    page.goto(f"{server.url}/models/{endpoint.uid}/")
    wait_charts_ready(page)
    wait_live(page)


def ingest_token(username: str) -> str:
    user = User.objects.get(username=username)
    return create_token(user=user, name="e2e push", scopes=["ingest"], by=Actor.system("test"))[1]


def test_a_pushed_sample_is_drawn_within_two_seconds(asgi_server: LiveServer, page: Any) -> None:
    in_thread(browser_user, "ada", roles.ADMIN)
    endpoint = in_thread(model_with_up, "llm-push", int(time.time() * 1000) - 30_000)
    secret = in_thread(ingest_token, "ada")
    open_model_page(page, asgi_server, endpoint)
    time.sleep(WATCHED_CACHE_S)
    page.evaluate(RECORD_DRAWN)

    answer = httpx.post(
        f"{asgi_server.url}/api/v1/push",
        json={"samples": [{"name": "up", "labels": {"model": "llm-push"}, "value": 0.7312}]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text

    page.wait_for_function(
        """() => { const t = window.Opsboard.charts.up.div.data.find((d) => d.name === "up");
                   return t && t.y[t.y.length - 1] === 0.7312; }""",
        timeout=2_000,
    )
    drawn = page.evaluate("() => window.__drawn")
    assert any(d["lastValue"] == 0.7312 and d["source"] == "live" and d["panel"] == "up" for d in drawn)


def test_after_an_outage_every_point_is_drawn_exactly_once(asgi_server: LiveServer, page: Any) -> None:
    in_thread(browser_user, "ada", roles.ADMIN)
    now = int(time.time() * 1000)
    endpoint = in_thread(model_with_up, "llm-outage", now - 60_000)
    open_model_page(page, asgi_server, endpoint)
    page.evaluate(RECORD_STATES)

    asgi_server.kill()
    page.wait_for_function("() => window.__states.includes('reconnecting')")
    missed = [now - 20_000 + i * 500 for i in range(30)]
    in_thread(write_up, "llm-outage", missed, 0.5)
    asgi_server.start()
    page.wait_for_function(
        "() => window.__states.lastIndexOf('live') > window.__states.indexOf('reconnecting')", timeout=30_000
    )
    expected = sorted([now - 60_000, *missed])
    page.wait_for_function(f"() => ({UP_TIMESTAMPS})().length >= {len(expected)}", timeout=10_000)
    time.sleep(WATCHED_CACHE_S + 0.5)  # the second backfill after the reconnect has run too
    drawn = page.evaluate(UP_TIMESTAMPS)
    assert len(drawn) == len(set(drawn)), "a point was drawn twice"
    assert drawn == expected

    after = int(time.time() * 1000)
    in_thread(write_up, "llm-outage", [after], 0.25)
    page.wait_for_function(f"() => ({UP_TIMESTAMPS})().includes({after})", timeout=5_000)
    late = after - 5_000  # a point that arrives after a newer one goes in its place
    in_thread(write_up, "llm-outage", [late], 0.75)
    page.wait_for_function(f"() => ({UP_TIMESTAMPS})().includes({late})", timeout=5_000)
    assert page.evaluate(UP_TIMESTAMPS) == [*expected, late, after]


def test_paused_points_wait_and_resume_draws_them_once(asgi_server: LiveServer, page: Any) -> None:
    in_thread(browser_user, "ada", roles.ADMIN)
    now = int(time.time() * 1000)
    endpoint = in_thread(model_with_up, "llm-pause", now - 30_000)
    open_model_page(page, asgi_server, endpoint)
    time.sleep(WATCHED_CACHE_S)

    page.click("#live-toggle")
    assert page.get_attribute("#live-indicator", "data-state") == "paused"
    assert page.text_content("#live-toggle") == "Resume"
    held = [now - 10_000 + i * 1_000 for i in range(5)]
    in_thread(write_up, "llm-pause", held)
    time.sleep(1.5)
    assert page.evaluate(UP_TIMESTAMPS) == [now - 30_000], "drawn while paused"

    page.click("#live-toggle")
    wait_live(page)
    assert page.text_content("#live-toggle") == "Pause"
    page.wait_for_function(f"() => ({UP_TIMESTAMPS})().length === {1 + len(held)}", timeout=5_000)
    time.sleep(0.5)
    assert page.evaluate(UP_TIMESTAMPS) == [now - 30_000, *held]


@pytest.mark.parametrize(("role", "code"), [("anonymous", 4401), (None, 4403)])
def test_the_socket_closes_with_the_refusal_code(
    asgi_server: LiveServer, page: Any, role: str | None, code: int
) -> None:
    if role != "anonymous":
        in_thread(browser_user, "otto", role)
        sign_in(page, asgi_server, "otto")
    page.goto(f"{asgi_server.url}/login/")
    assert page.evaluate(OPEN_SOCKET)["code"] == code


@pytest.mark.parametrize("role", ["anonymous", None])
def test_who_may_not_watch_never_gets_points(asgi_server: LiveServer, page: Any, role: str | None) -> None:
    in_thread(model_with_up, "m", int(time.time() * 1000))
    if role != "anonymous":
        in_thread(browser_user, "otto", role)
        sign_in(page, asgi_server, "otto")
    page.goto(f"{asgi_server.url}/login/")
    outcome = page.evaluate(OPEN_SOCKET)
    in_thread(write_up, "m", [int(time.time() * 1000)])
    assert outcome["messages"] == 0
    assert outcome["code"] == (4401 if role == "anonymous" else 4403)  # closed at once, with the reason


@pytest.mark.parametrize(("change", "shown"), [("sign out", "signed out"), ("lose the role", "not allowed")])
def test_the_page_stops_reconnecting_once_refused(
    asgi_server: LiveServer, context: Any, change: str, shown: str
) -> None:
    page = context.new_page()
    in_thread(browser_user, "vic", roles.VIEWER)
    endpoint = in_thread(model_with_up, "llm-refused", int(time.time() * 1000))
    open_model_page(page, asgi_server, endpoint, "vic")
    if change == "sign out":
        context.clear_cookies()
    else:
        in_thread(User.objects.filter(username="vic").update, role_id=None)

    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    asgi_server.kill()
    asgi_server.start()
    page.wait_for_selector("#live-indicator[data-state=offline]", timeout=30_000)
    assert page.text_content("#live-indicator") == shown
    attempts = len(sockets)
    time.sleep(3)  # more than the next backoff delays
    assert len(sockets) == attempts, "it kept reconnecting after the refusal"
    assert page.is_disabled("#live-toggle")
