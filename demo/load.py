"""A light, varying load on the demo model, so that its charts move."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import threading
import time
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)


def rate_at(t: float, low: float = 2.0, high: float = 8.0, period_s: float = 300.0) -> float:
    """Requests per second at time ``t``: a slow wave between ``low`` and ``high``."""
    return low + (high - low) * (0.5 + 0.5 * math.sin(2 * math.pi * t / period_s))


def send_one(url: str) -> None:
    """One predict request; an error answer is part of the demo, a refused connection is
    simply tried again on the next request."""
    body = json.dumps({"batch": random.choice([1, 1, 2, 4, 8, 16])}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (our demo server)
    with contextlib.suppress(urllib.error.URLError, OSError):
        urllib.request.urlopen(request, timeout=5).read()  # noqa: S310


def run(url: str, stop: threading.Event) -> None:
    """Send requests to ``url`` until ``stop`` is set."""
    started = time.monotonic()
    while not stop.is_set():
        send_one(url)
        stop.wait(1.0 / rate_at(time.monotonic() - started))


def start(url: str, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run, args=(url, stop), name="demo-load", daemon=True)
    thread.start()
    return thread
