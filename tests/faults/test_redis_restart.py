"""Redis restarts under the whole stack: daphne, a poller, an evaluator, a pager and celery
beat (as in the Procfile; the general ``worker`` is left out, nothing here needs it), polling
a loopback target every 2 s, with a rule firing on it that pages a loopback webhook, and a
browser on the target's page. Redis runs without persistence, as ``make run`` starts it, so
the restart also loses every queue, the channel layer's groups and the live charts' watched
names.

Nothing is restarted by the test but Redis: the workers, beat and daphne reconnect by
themselves; polling resumes soon after Redis is back, with a gap only while it was down; the
alert stays firing with one transition, one incident and one page; the page shows
"reconnecting", then "live", and its chart ends up with exactly the stored points.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import servers
from tests.e2e.conftest import CHROMIUM_ARGS, VIEWPORT, chromium_path, wait_charts_ready, wait_live
from tests.faults.loopback import Receiver
from tests.faults.stack import Stack, wait_until
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
logger = logging.getLogger(__name__)

INTERVAL_S = 2
DOWN_S = 4.0
PROCESSES = ("web", "poller", "evaluator", "pager", "beat")

RECORD_STATES = """() => {
  const indicator = document.getElementById("live-indicator");
  window.__states = [indicator.dataset.state];
  new MutationObserver(() => window.__states.push(indicator.dataset.state))
    .observe(indicator, {attributes: true, attributeFilter: ["data-state"]});
}"""

UP_TIMESTAMPS = """() => {
  const trace = window.Opsboard.charts.up.div.data.find((t) => t.name === "up");
  return trace ? Array.from(trace.x).map((x) => (typeof x === "number" ? x : Date.parse(x))) : [];
}"""


@pytest.fixture
def page(stack: Stack) -> Iterator[Any]:
    if chromium_path() is None:
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(20_000)
            yield context.new_page()
        finally:
            browser.close()


def start_stack(stack: Stack, target_url: str, receiver: Receiver) -> dict[str, Any]:
    port = free_port()
    stack.env.update(FAULTS_WEB_URL=f"http://127.0.0.1:{port}", EVAL_INTERVAL=str(INTERVAL_S))
    stack.daphne(port)
    stack.worker("poller", "polls", procfile=True)
    stack.worker("evaluator", "alerts", procfile=True)
    stack.worker("pager", "pages-critical", procfile=True)
    viewer, target, *_ = stack.world(
        ("viewer", {}),
        ("target", {"name": "m1", "url": target_url, "interval_s": INTERVAL_S, "timeout_s": 1.0}),
        ("webhook_policy", {"url": receiver.url}),
        ("rule", {"name": "Gauge high", "expression": "fault_gauge", "above": 0.5, "group_by": ["model"]}),
    )
    for name in PROCESSES[:-1]:
        stack.wait_ready(name)
    stack.beat()  # last: the target is due at once
    return {"session": viewer["session"], "uid": target["uid"]}


def up_stamps(stack: Stack) -> list[int]:
    return [ts for ts, _ in stack.samples("up", model="m1")]


def test_the_stack_rides_out_a_redis_restart(stack: Stack, page: Any) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    try:
        with servers.serve(servers.exposition("fault_gauge 1\n")) as base:
            world = start_stack(stack, f"{base}/metrics", receiver)
            pids = {name: stack.pid(name) for name in PROCESSES}
            page.context.add_cookies([{"name": "sessionid", "value": world["session"], "url": stack.web_url}])
            wait_until(lambda: len(up_stamps(stack)) >= 2 and receiver.got(), "polls and the page", 60)
            page.goto(f"{stack.web_url}/models/{world['uid']}/")
            wait_charts_ready(page)
            wait_live(page)
            page.evaluate(RECORD_STATES)
            time.sleep(INTERVAL_S)

            stack.redis.stop()
            down_ms = int(time.time() * 1000)
            time.sleep(DOWN_S)
            stack.redis.start()
            up_ms = int(time.time() * 1000)

            page.wait_for_function("() => window.__states.includes('reconnecting')", timeout=5_000)
            resumed = wait_until(lambda: [ts for ts in up_stamps(stack) if ts > up_ms], "polling to resume", 60)[0]
            page.wait_for_function(
                "() => window.__states.lastIndexOf('live') > window.__states.indexOf('reconnecting')", timeout=30_000
            )
            time.sleep(3 * INTERVAL_S)  # a few polls, passes and sweeps after the restart
            stored = up_stamps(stack)
            page.wait_for_function(f"() => ({UP_TIMESTAMPS})().includes({stored[-1]})", timeout=10_000)
            drawn = [ts for ts in page.evaluate(UP_TIMESTAMPS) if ts <= stored[-1]]
    finally:
        receiver.stop()

    logger.info("polling resumed %.1f s after Redis came back", (resumed - up_ms) / 1000)
    assert {name: stack.pid(name) for name in PROCESSES if stack.alive(name)} == pids, stack.tails()
    assert resumed - up_ms <= 2 * INTERVAL_S * 1000 + 1000, f"polling resumed {resumed - up_ms} ms after Redis"
    gaps = [(a, b) for a, b in itertools.pairwise(stored) if b - a > 1.5 * INTERVAL_S * 1000]
    assert all(a <= up_ms and b > down_ms for a, b in gaps), f"a gap outside the outage {down_ms}..{up_ms}: {gaps}"
    assert drawn == stored, "the chart differs from the stored points"

    assert stack.sql("SELECT to_state FROM alerts_alerttransition") == [("firing",)]
    assert stack.sql("SELECT status FROM alerts_incident") == [("triggered",)]
    hits = receiver.got()
    assert [h.event for h in hits] == ["triggered"], "paged again because of the restart"
    assert stack.sql("SELECT status, attempts FROM alerts_notification") == [("delivered", 1)]
