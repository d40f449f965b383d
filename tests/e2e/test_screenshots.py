"""Screenshots of the Overview, Model, Node and Run pages with an hour of data, at desktop and
phone width, under test-artifacts/screenshots/ (look at them after a change to the charts)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from opsboard.accounts import roles
from tests.e2e.conftest import ROOT, LiveServer, browser_user, in_thread, sign_in, wait_charts_ready, wait_live
from tests.e2e.seed import gpu_node, serving_model, training_runs

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}

# Every chart drawn, with points, and no panel showing an error.
CHART_REPORT = """() => Object.values(window.Opsboard.charts).map((s) => ({
  panel: s.id,
  points: s.div.data.reduce((n, t) => n + t.x.filter((x, i) => t.y[i] !== null).length, 0),
  error: s.error && !s.error.hidden ? s.error.textContent : "",
}))"""


def seed(now_ms: int) -> dict[str, Any]:
    model = serving_model("llama-3-70b", now_ms)
    node = gpu_node("gpu-node-01", now_ms)
    run, sibling = training_runs("resnet50-imagenet", now_ms)
    return {"model": model, "node": node, "run": run, "sibling": sibling}


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_charts(page: Any, url: str) -> list[dict[str, Any]]:
    page.goto(url)
    wait_charts_ready(page)
    wait_live(page)
    page.wait_for_timeout(300)  # Plotly's responsive relayout after the fonts settle
    return page.evaluate(CHART_REPORT)


def assert_drawn(report: list[dict[str, Any]], least: int = 20) -> None:
    assert report, "no charts on the page"
    for chart in report:
        assert not chart["error"], f"{chart['panel']}: {chart['error']}"
        assert chart["points"] >= least, f"{chart['panel']} has {chart['points']} points"


def test_screenshots_of_the_pages_with_data(asgi_server: LiveServer, context: Any) -> None:
    in_thread(browser_user, "ada", roles.ADMIN)
    objects = in_thread(seed, int(time.time() * 1000))
    page = context.new_page()
    sign_in(page, asgi_server, "ada")

    page.goto(f"{asgi_server.url}/")
    assert "llama-3-70b" in page.text_content("main")
    shoot(page, "overview")

    assert_drawn(open_charts(page, f"{asgi_server.url}/models/{objects['model'].uid}/"))
    shoot(page, "model")
    assert_drawn(open_charts(page, f"{asgi_server.url}/nodes/{objects['node'].uid}/"))
    shoot(page, "node")

    assert_drawn(open_charts(page, f"{asgi_server.url}/runs/{objects['run'].uid}/"))
    page.click("details.overlay summary")
    page.check(f"#overlay-runs input[value='{objects['sibling'].uid}']")
    wait_charts_ready(page)
    page.wait_for_function(
        "name => window.Opsboard.charts.train_loss.div.data.some((t) => t.name === name)", arg="resnet-lr1e-3"
    )
    shoot(page, "run")
    page.check("input[name=xaxis][value=step]")
    page.wait_for_function("() => window.Opsboard.charts.train_loss.div.layout.xaxis.type === 'linear'")
    wait_charts_ready(page)
    steps = page.evaluate("() => window.Opsboard.charts.train_loss.div.data.map((t) => Math.max(...t.x))")
    assert steps == [2400, 2000]  # each run against its own train_step (an hour and 50 minutes, 10 a point)
    shoot(page, "run-steps")

    page.set_viewport_size(PHONE)
    assert_drawn(open_charts(page, f"{asgi_server.url}/models/{objects['model'].uid}/"))
    shoot(page, "model-phone")
