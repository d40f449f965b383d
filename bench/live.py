"""Live charts in a real browser against the ASGI app under daphne, on a scratch database.

- ``live_median_ms``, ``live_p95_ms``: from a push's answer (in this process) to the browser
  drawing that point (its ``opsboard:drawn`` event), for pushes one second apart while a model
  page is open (goal: median <= 300 ms on loopback).
- ``chart_ratio = time to draw a 30-day chart / time to draw a 1-hour chart`` (goal <= 3): one
  series of 15-second samples, Explore with ``fn=raw``, the median ``opsboard:rendered`` time of
  five loads of each range (request start to render end, measured by the page).

``--quick``: 5 pushes, and 3 days of samples (charted whole) instead of 30.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/live.py [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

# Keys, channel groups and watched names of its own, beside any server on the same Redis.
PREFIX = f"opsboard-bench-{os.getpid()}"
os.environ["OPSBOARD_REDIS_PREFIX"] = PREFIX

import _django  # noqa: E402

_django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from monitoring import rollups, store  # noqa: E402
from monitoring.models import ModelEndpoint  # noqa: E402
from monitoring.samples import Sample, sample  # noqa: E402
from opsboard.accounts.models import User  # noqa: E402
from opsboard.accounts.services import create_token  # noqa: E402
from opsboard.audit.services import Actor  # noqa: E402
from opsboard.redis_client import redis_client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
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
DAY_MS = 86_400_000
MODEL = "bench-llm"
SERIES = "bench_gpu_util"
LOADS = 5
RECORDER = """
window.__drawn = [];
window.__rendered = [];
document.addEventListener("opsboard:drawn", (e) => window.__drawn.push({value: e.detail.lastValue, at: Date.now()}));
document.addEventListener("opsboard:rendered", (e) => window.__rendered.push(e.detail.ms));
"""


# --- Set-up --------------------------------------------------------------------------


def seed(days: int, now_ms: int) -> tuple[str, str, str]:
    """A user, a model page with an ``up`` series, an ingest token, and ``days`` of one gauge."""
    password = secrets.token_urlsafe(16)
    user = User(username="bench", email="bench@example.test", role_id="admin")
    user.set_password(password)
    user.save()
    endpoint = ModelEndpoint.objects.create(name=MODEL, kind="prometheus", url="http://127.0.0.1:9/m", enabled=False)
    store.write([sample("up", {"model": MODEL}, now_ms - 60_000, 1.0)])
    token = create_token(user=user, name="bench", scopes=["ingest"], by=Actor.system("bench"))[1]
    fill(days, now_ms)
    return password, str(endpoint.uid), token


def fill(days: int, now_ms: int) -> None:
    """15-second samples of one gauge for ``days`` days, then their rollups."""
    start = now_ms - days * DAY_MS
    batch: list[Sample] = []
    for i in range(days * DAY_MS // 15_000):
        batch.append(Sample(SERIES, (("gpu", "0"),), start + i * 15_000, float(i % 97)))
        if len(batch) == 10_000:
            store.write(batch)
            batch = []
    store.write(batch)
    rollups.roll_up(now_ms)


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def daphne(port: int, log: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPSBOARD_REDIS_PREFIX": PREFIX,
        "DEBUG": "0",
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "opsboard.asgi:application"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"daphne exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("daphne did not answer within 60 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = next((p for p in CHROMIUM_PATHS if Path(p).exists()), None)
    if path is None:
        raise SystemExit(f"bench/live.py needs Chromium at {' or '.join(CHROMIUM_PATHS)}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(30_000)
        context.add_init_script(RECORDER)
        try:
            yield context.new_page()
        finally:
            browser.close()


def sign_in(page: Any, url: str, password: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "bench")
    page.fill("#id_password", password)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(lambda address: "/login/" not in address)


# --- Measurements --------------------------------------------------------------------


def live_latencies(page: Any, url: str, uid: str, token: str, pushes: int) -> list[float]:
    """Milliseconds from each push's answer to the browser drawing its value."""
    page.goto(f"{url}/models/{uid}/")
    page.wait_for_selector("#live-indicator[data-state=live]")
    page.wait_for_function("() => Object.values(window.Opsboard.charts).every((s) => s.ready)")
    time.sleep(1.5)  # writers re-read the watched names once a second
    latencies = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for i in range(pushes):
            began = time.monotonic()
            value = 1000 + i + 0.25
            body = {"samples": [{"name": "up", "labels": {"model": MODEL}, "value": value}]}
            client.post("/api/v1/push", json=body).raise_for_status()
            answered_ms = time.time() * 1000
            page.wait_for_function("v => window.__drawn.some((d) => d.value === v)", arg=value, polling=5)
            drawn_ms = page.evaluate("v => window.__drawn.find((d) => d.value === v).at", value)
            latencies.append(drawn_ms - answered_ms)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    return latencies


def render_ms(page: Any, address: str) -> float:
    page.goto(address)
    page.wait_for_function("() => window.__rendered.length > 0")
    return float(page.evaluate("() => window.__rendered[0]"))


def median_render_ms(page: Any, address: str) -> float:
    render_ms(page, address)  # warm: caches, the plan of the query
    return statistics.median(render_ms(page, address) for _ in range(LOADS))


def chart_times(page: Any, url: str, days: int, now_ms: int) -> tuple[float, float]:
    explore = f"{url}/explore/?query={quote(SERIES)}&fn=raw"
    wide = (
        f"{explore}&range=30d"
        if days == 30
        else f"{explore}&from={(now_ms - days * DAY_MS) // 1000}&to={now_ms // 1000}"
    )
    return median_render_ms(page, wide), median_render_ms(page, f"{explore}&range=1h")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def forget_redis_keys() -> None:
    client = redis_client()
    keys = list(client.scan_iter(f"{PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per push would bury the figures
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 pushes and 3 days instead of 20 and 30")
    args = parser.parse_args()
    pushes, days = (5, 3) if args.quick else (20, 30)
    try:
        with tempfile.TemporaryDirectory() as tmp, _django.scratch_database():
            if connection.vendor != "postgresql":
                raise SystemExit("bench/live.py needs DATABASE_URL=postgres://…")
            now = int(time.time() * 1000)
            password, uid, token = seed(days, now)
            connection.close()  # the ORM is done; Playwright's loop would refuse it anyway
            with daphne(free_port(), Path(tmp) / "daphne.log") as url, browser_page() as page:
                sign_in(page, url, password)
                latencies = live_latencies(page, url, uid, token, pushes)
                wide_ms, hour_ms = chart_times(page, url, days, now)
    finally:
        forget_redis_keys()
    _django.figure("live_pushes", pushes)
    _django.figure("live_median_ms", statistics.median(latencies), 1)
    _django.figure("live_p95_ms", percentile(latencies, 0.95), 1)
    _django.figure("chart_days", days)
    _django.figure(f"chart_{days}d_ms", wide_ms, 1)
    _django.figure("chart_1h_ms", hour_ms, 1)
    _django.figure("chart_ratio", wide_ms / hour_ms, 2)


if __name__ == "__main__":
    main()
