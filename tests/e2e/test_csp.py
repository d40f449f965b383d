"""Every kind of page under the Content-Security-Policy in Chromium: no violation, no console
error, the charts still draw and the live sockets still connect.

Violations are reported to the test from the page (``securitypolicyviolation`` events,
registered before any page script runs) and from Chromium's console, which also reports
what a worker was refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from opsboard.accounts import roles
from tests.e2e.conftest import LiveServer, browser_user, in_thread, sign_in
from tests.e2e.test_screenshots import assert_drawn, open_charts
from tests.security.world import World, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LISTEN = """document.addEventListener("securitypolicyviolation", (e) => window.__cspViolation({
  page: location.pathname, directive: e.effectiveDirective, blocked: e.blockedURI,
  source: e.sourceFile, line: e.lineNumber, sample: e.sample}));"""


@dataclass
class Problems:
    """What the browser reported since the last ``take``."""

    items: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        taken, self.items = self.items, []
        return taken


@pytest.fixture
def watched(context: Any) -> Iterator[tuple[Any, Problems]]:
    problems = Problems()
    context.expose_function("__cspViolation", lambda v: problems.items.append(f"CSP {v}"))
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.items.append(f"console {m.text} at {page.url}"))
    page.on("pageerror", lambda e: problems.items.append(f"page error {e} at {page.url}"))
    yield page, problems


def test_the_policy_is_enforced_and_reported(asgi_server: LiveServer, watched: tuple[Any, Problems]) -> None:
    """The canary: an injected inline script is refused, and the refusal reaches the test."""
    page, problems = watched
    response = page.goto(f"{asgi_server.url}/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                  " document.body.append(s); }")  # fmt: skip
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ran") is None
    assert any("script-src-elem" in item for item in problems.take())


def world_with_data() -> World:
    admin = browser_user("ada", roles.ADMIN)
    return build_world(admin, text="one", now_ms=int(time.time() * 1000))


def charts_page(path: str, least: int = 20) -> Callable[[Any, str], None]:
    def visit(page: Any, base: str) -> None:
        assert_drawn(open_charts(page, base + path), least=least)

    return visit


def plain_page(path: str, ready: str = "main") -> Callable[[Any, str], None]:
    def visit(page: Any, base: str) -> None:
        page.goto(base + path)
        page.wait_for_selector(ready)

    return visit


def live_page(path: str, indicator: str) -> Callable[[Any, str], None]:
    def visit(page: Any, base: str) -> None:
        page.goto(base + path)
        page.wait_for_selector(f"{indicator}[data-state=live]")

    return visit


def rule_editor(path: str) -> Callable[[Any, str], None]:
    """The editor previews on load: Plotly draws the backtest into #preview-chart."""

    def visit(page: Any, base: str) -> None:
        page.goto(base + path)
        page.wait_for_function("() => /would have fired/.test(document.getElementById('preview-count').textContent)")
        assert page.evaluate("() => document.getElementById('preview-chart').data.length") >= 1
        assert page.locator("#preview-chart .main-svg").count() >= 1

    return visit


def api_docs(page: Any, base: str) -> None:
    page.goto(base + "/api/v1/docs/")
    page.get_by_text("Opsboard API").first.wait_for()
    page.get_by_text("/api/v1/push", exact=True).first.wait_for(state="attached")
    page.wait_for_timeout(500)  # Redoc's search worker starts after the first render


def visits(w: World) -> list[tuple[str, Callable[[Any, str], None]]]:
    return [
        ("overview", plain_page("/", "#overview-live")),
        ("models", plain_page("/models/", "table")),
        ("model", charts_page(f"/models/{w.model.uid}/")),
        ("model form", plain_page(f"/models/{w.model.uid}/edit/", "#target-form")),
        ("nodes", plain_page("/nodes/", "table")),
        ("node", charts_page(f"/nodes/{w.node.uid}/")),
        ("runs", plain_page("/runs/", "table")),
        ("run", charts_page(f"/runs/{w.run.uid}/")),
        ("explore", charts_page("/explore/?query=DCGM_FI_DEV_GPU_TEMP")),
        ("alerts", plain_page("/alerts/", "table")),
        ("rule", plain_page(f"/alerts/rules/{w.rule.uid}/")),
        ("rule editor", rule_editor(f"/alerts/rules/{w.rule.uid}/edit/")),
        ("silences", plain_page("/alerts/silences/", "table")),
        ("incidents", live_page("/incidents/", "#incidents-live")),
        ("incident", charts_page(f"/incidents/{w.incident.uid}/", least=1)),
        ("receiver", plain_page("/receiver/")),
        ("on-call", plain_page("/oncall/", ".oncall-schedule")),
        ("schedule", plain_page(f"/oncall/schedules/{w.schedule.uid}/")),
        ("policies", plain_page("/oncall/policies/")),
        ("policy", plain_page(f"/oncall/policies/{w.policy.uid}/")),
        ("channels", plain_page("/oncall/channels/")),
        ("channel form", plain_page("/oncall/channels/new/", "form[data-kind-form]")),
        ("contact", plain_page("/oncall/contact/", "form[data-kind-form]")),
        ("audit", plain_page("/audit/", "table")),
        ("users", plain_page("/users/", "table")),
        ("tokens", plain_page("/tokens/", "table")),
        ("password", plain_page("/account/password/", "form")),
        ("not found", plain_page("/models/00000000-0000-0000-0000-000000000000/")),
        ("api docs", api_docs),
    ]


# Blocked on purpose, and so reported: Redoc's sidebar always shows its vendor's logo from
# cdn.redoc.ly, and the docs load nothing from other sites.
EXPECTED = {"api docs": "https://cdn.redoc.ly/redoc/logo-mini.svg", "not found": "404 (Not Found)"}


def unexpected(name: str, reported: list[str]) -> list[str]:
    return [item for item in reported if name not in EXPECTED or EXPECTED[name] not in item]


def test_every_page_runs_without_a_violation(asgi_server: LiveServer, watched: tuple[Any, Problems]) -> None:
    page, problems = watched
    world = in_thread(world_with_data)
    sign_in(page, asgi_server, "ada")
    found = {}
    for name, visit in visits(world):
        visit(page, asgi_server.url)
        page.wait_for_timeout(150)  # a late report (a style injected after the first frame)
        reported = unexpected(name, problems.take())
        if reported:
            found[name] = reported
    assert found == {}


def test_the_api_docs_get_their_allowances_alone(asgi_server: LiveServer, watched: tuple[Any, Problems]) -> None:
    """Redoc's 'unsafe-inline' styles and blob: worker are on its page only."""
    page, _ = watched
    docs = page.goto(f"{asgi_server.url}/api/v1/docs/").headers["content-security-policy"]
    login = page.goto(f"{asgi_server.url}/login/").headers["content-security-policy"]
    assert "'unsafe-inline'" in docs and "blob:" in docs
    assert "'unsafe-inline'" not in login and "blob:" not in login
