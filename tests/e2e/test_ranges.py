"""Time ranges in a real browser: zooming re-queries at the new resolution and puts from/to in
the address, a double-click returns to the range, and the buttons and the form set it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest

from opsboard.accounts import roles
from tests.e2e.conftest import LiveServer, browser_user, in_thread, sign_in, wait_charts_ready
from tests.e2e.seed import model_endpoint, stamps, write_all

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SELECTOR = 'up{model="llm-zoom"}'


def an_hour_of_up(now_ms: int) -> Any:
    from monitoring.samples import sample

    endpoint = model_endpoint("llm-zoom")
    write_all(sample("up", {"model": "llm-zoom"}, ts, 1.0) for ts in stamps(now_ms))
    return endpoint


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def record_queries(page: Any) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    page.on("request", lambda r: "/api/v1/query_range" in r.url and seen.append(query(r.url)))
    return seen


def wait_for_query(page: Any, seen: list[dict[str, str]], test: Any, timeout_s: float = 5.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [q for q in seen if test(q)]
        if found:
            return found[-1]
        page.wait_for_timeout(100)
    raise AssertionError(f"no query_range request matched; saw {seen[-5:]}")


def covers(request: dict[str, str], start: float, end: float) -> bool:
    """Asked from the view's start (aligned down to one step at most) to its end."""
    step = float(request["step"])
    return float(request["end"]) == end and start - step < float(request["start"]) <= start


def open_up_chart(page: Any, server: LiveServer) -> Any:
    in_thread(browser_user, "ada", roles.ADMIN)
    endpoint = in_thread(an_hour_of_up, int(time.time() * 1000))
    sign_in(page, server, "ada")
    page.goto(f"{server.url}/models/{endpoint.uid}/")
    wait_charts_ready(page)
    return endpoint


def test_dragging_zooms_requeries_and_double_click_returns(asgi_server: LiveServer, page: Any) -> None:
    open_up_chart(page, asgi_server)
    seen = record_queries(page)
    first_step = float(page.evaluate("() => window.Opsboard.charts.up.stepMs")) / 1000

    box = page.locator("#panel-up .nsewdrag").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=12)
    page.mouse.up()
    page.wait_for_function("() => new URLSearchParams(location.search).has('from')")

    address = query(page.url)
    start, end = float(address["from"]), float(address["to"])
    assert "range" not in address
    assert 60 * 60 * 0.2 < end - start < 60 * 60 * 0.4  # the 30 % of the hour dragged over
    zoomed = wait_for_query(page, seen, lambda q: covers(q, start, end))
    assert float(zoomed["step"]) < first_step  # finer: the same pixels over a shorter range
    assert page.get_attribute("button.range[data-range='1h']", "aria-pressed") == "false"

    page.mouse.dblclick(box["x"] + box["width"] / 2, y)
    page.wait_for_function("() => new URLSearchParams(location.search).get('range') === '1h'")
    assert "from" not in query(page.url)
    assert page.get_attribute("button.range[data-range='1h']", "aria-pressed") == "true"


def test_a_programmatic_relayout_requeries_too(asgi_server: LiveServer, page: Any) -> None:
    open_up_chart(page, asgi_server)
    seen = record_queries(page)
    end = int(time.time()) - 600
    start = end - 900
    page.evaluate(
        """([a, b]) => Plotly.relayout(window.Opsboard.charts.up.div, {
             "xaxis.range[0]": new Date(a * 1000).toISOString().replace("T", " ").replace("Z", ""),
             "xaxis.range[1]": new Date(b * 1000).toISOString().replace("T", " ").replace("Z", "")})""",
        [start, end],
    )
    page.wait_for_function("() => new URLSearchParams(location.search).has('from')")
    assert query(page.url)["from"] == str(start) and query(page.url)["to"] == str(end)
    wait_for_query(page, seen, lambda q: covers(q, start, end))


def test_buttons_and_the_form_set_the_range_and_keep_the_query(asgi_server: LiveServer, page: Any) -> None:
    in_thread(browser_user, "ada", roles.ADMIN)
    in_thread(an_hour_of_up, int(time.time() * 1000))
    sign_in(page, asgi_server, "ada")
    page.goto(f"{asgi_server.url}/explore/?query={quote(SELECTOR)}&fn=raw")
    wait_charts_ready(page)
    seen = record_queries(page)

    page.click("button.range[data-range='6h']")
    page.wait_for_function("() => new URLSearchParams(location.search).get('range') === '6h'")
    address = query(page.url)
    assert address["query"] == SELECTOR and address["fn"] == "raw"
    assert page.get_attribute("button.range[data-range='6h']", "aria-pressed") == "true"
    assert page.input_value("form.explore input[name=range]") == "6h"
    six_hours = wait_for_query(page, seen, lambda q: float(q["end"]) - float(q["start"]) >= 6 * 3600)
    assert six_hours["fn"] == "raw"

    page.click("button.range[data-range='7d']")  # over 24 h: a min-max band from the rollups
    wait_for_query(page, seen, lambda q: q.get("fn") == "max")
    wait_for_query(page, seen, lambda q: q.get("fn") == "min")

    page.fill("#custom-range input[name=from]", "2026-01-02T03:04:05")
    page.fill("#custom-range input[name=to]", "2026-01-02T05:04:05")
    page.click("#custom-range button[type=submit]")
    page.wait_for_function("() => new URLSearchParams(location.search).has('from')")
    address = query(page.url)
    assert (address["from"], address["to"]) == ("1767323045", "1767330245")  # read as UTC
    assert address["query"] == SELECTOR and "range" not in address
    assert page.input_value("form.explore input[name=range]") == ""


def three_ups(now_ms: int) -> None:
    from monitoring.samples import sample

    write_all(sample("up", {"model": name}, now_ms, 1.0) for name in ("a", "b", "c"))


def test_a_query_the_server_refuses_shows_its_message(asgi_server: LiveServer, page: Any) -> None:
    asgi_server.env["QUERY_MAX_SERIES"] = "2"
    asgi_server.stop()
    asgi_server.start()
    in_thread(browser_user, "ada", roles.ADMIN)
    in_thread(three_ups, int(time.time() * 1000))
    sign_in(page, asgi_server, "ada")
    page.goto(f"{asgi_server.url}/explore/?query=up&fn=raw")
    wait_charts_ready(page)
    message = page.text_content("#panel-explore .chart-error")
    assert "matches more than 2 series" in message
