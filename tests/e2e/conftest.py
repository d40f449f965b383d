"""Browser tests: the real ASGI app in a daphne subprocess, driven by Chromium through Playwright.

Playwright's sync API keeps an event loop in the test's thread, where Django then refuses the
ORM (STACK-NOTES #3): tests write through ``in_thread``. The browser starts per test, after the
database fixture, so that pytest-django empties the tables once the browser is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection, connections

from opsboard.accounts.models import User
from tests.conftest import PASSWORD, TEST_PREFIX, make_user
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
T = TypeVar("T")


def chromium_path() -> str | None:
    return next((path for path in CHROMIUM_PATHS if Path(path).exists()), None)


def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` in a worker thread (no event loop there), closing its database connection."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")  # type: ignore[return-value]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class LiveServer:
    """The ASGI app under daphne on a fixed loopback port; it can be killed and started again."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OPSBOARD_REDIS_PREFIX": TEST_PREFIX,
            "DEBUG": "0",
        }

    def start(self) -> None:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "opsboard.asgi:application"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/login/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"daphne did not answer within {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the WebSockets drop without a closing handshake, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@pytest.fixture
def asgi_server(transactional_db: None, tmp_path: Path) -> Iterator[LiveServer]:
    if connection.vendor != "postgresql":
        pytest.skip("browser tests share the database with a daphne subprocess: run them on PostgreSQL")
    if chromium_path() is None:
        pytest.skip(f"Chromium is not installed at {' or '.join(CHROMIUM_PATHS)}")
    server = LiveServer(tmp_path / "daphne.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser(asgi_server: LiveServer) -> Iterator[Any]:
    """Chromium for one test; it ends before the database fixture empties the tables."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def browser_user(username: str, role: str | None) -> User:
    """A user who can sign in to the server: the tests' MD5 hasher is not among its hashers."""
    user = make_user(username, role)
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)  # cheap, still verifiable
    user.save(update_fields=["password"])
    return user


def sign_in(page: Any, server: LiveServer, username: str) -> None:
    """Through the real form, as a person would."""
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def wait_charts_ready(page: Any, timeout_ms: int = 20_000) -> None:
    page.wait_for_function(
        "() => window.Opsboard && window.Opsboard.charts && Object.keys(window.Opsboard.charts).length > 0"
        " && Object.values(window.Opsboard.charts).every((s) => s.ready)",
        timeout=timeout_ms,
    )


def wait_live(page: Any, timeout_ms: int = 15_000) -> None:
    page.wait_for_selector("#live-indicator[data-state=live]", timeout=timeout_ms)
