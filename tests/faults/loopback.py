"""Loopback servers of the fault tests (a webhook receiver that notes every request the moment
it arrives, a scrape target) and a ticker that sends tasks the way beat would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests import servers


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request was read, before any delay
    delivery: str  # X-Opsboard-Delivery
    body: dict[str, Any]

    @property
    def event(self) -> str:
        return self.body.get("event", "")

    @property
    def incident(self) -> str:
        return (self.body.get("incident") or {}).get("id", "")


class Receiver:
    """A webhook receiver: notes each request, waits ``delay_s(n)`` (n: the request's number,
    from 1), answers 200. Started and stopped at will on the same port, so it can be down."""

    def __init__(self, port: int, delay_s: Callable[[int], float] = lambda n: 0.0) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.delay_s = delay_s
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.server: servers._Server | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.hits.append(
                        Hit(time.monotonic(), self.headers.get("X-Opsboard-Delivery", ""), json.loads(raw))
                    )
                    number = len(receiver.hits)
                time.sleep(receiver.delay_s(number))
                with suppress(OSError):  # the sender may have died meanwhile
                    servers.send(self, 200, b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = servers._Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def got(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)


@dataclass
class Ticker:
    """Sends tasks every so often from a thread, as beat's schedule would: (every_s, send)."""

    jobs: list[tuple[float, Callable[[], None]]]
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        due = [time.monotonic()] * len(self.jobs)
        while not self.stopping.wait(0.05):
            for index, (every_s, send) in enumerate(self.jobs):
                if time.monotonic() >= due[index]:
                    due[index] += every_s
                    try:
                        send()
                    except Exception as exc:  # the broker is down: beat logs and goes on too
                        self.errors.append(f"{type(exc).__name__}: {exc}")

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
