"""PostgreSQL restarts under the push API: while it is down every push is answered 503 with
Retry-After within a few seconds (never 500, never a hang); every push answered 200, before or
after, is stored and nothing else is; and a training run logging through the SDK meanwhile
ends with every step stored exactly once."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from django.db import OperationalError
from django.test import Client

from monitoring import sdk
from opsboard.accounts import services
from tests.faults.stack import Stack, wait_until
from tests.servers import free_port

logger = logging.getLogger(__name__)

DOWN_S = 5.0
PUSH_EVERY_S = 0.1
STEP_EVERY_S = 0.05


@dataclass
class Answer:
    ts_ms: int
    status: int
    elapsed_s: float
    retry_after: str | None
    sent_at: float


@dataclass
class Pusher:
    """Pushes one sample of ``fault_push`` every PUSH_EVERY_S, each with its own timestamp."""

    url: str
    token: str
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30) as client:
            while not self.stopping.wait(PUSH_EVERY_S):
                ts_ms = int(time.time() * 1000)
                body = {
                    "samples": [{"name": "fault_push", "labels": {"src": "pusher"}, "value": 1, "ts": ts_ms / 1000}]
                }
                sent_at = time.monotonic()
                try:
                    response = client.post("/api/v1/push", json=body)
                    status, retry_after = response.status_code, response.headers.get("Retry-After")
                except httpx.HTTPError:
                    status, retry_after = 0, None
                self.answers.append(Answer(ts_ms, status, time.monotonic() - sent_at, retry_after, sent_at))

    def ok(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 200]


class Trainer:
    """A training loop logging one step every STEP_EVERY_S through the SDK, in a thread."""

    def __init__(self, run: sdk.Run) -> None:
        self.run = run
        self.steps = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        while not self.stopping.wait(STEP_EVERY_S):
            self.run.log({"loss": 1 / (self.steps + 1)}, step=self.steps)
            self.steps += 1


@pytest.mark.django_db
def test_a_push_whose_token_cannot_be_looked_up_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is read before the view runs: the first thing to fail when the database is down."""

    def unreachable(secret: str) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "token_for_secret", unreachable)
    response = Client().post("/api/v1/push", "x 1\n", content_type="text/plain", HTTP_AUTHORIZATION="Bearer t")
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json()["errorType"] == "unavailable"


@pytest.mark.slow
def test_pushes_get_503_while_the_database_is_down_and_nothing_is_lost(stack: Stack) -> None:
    port = free_port()
    stack.env["FAULTS_WEB_URL"] = f"http://127.0.0.1:{port}"
    stack.daphne(port)
    (viewer,) = stack.world(("viewer", {}))
    stack.wait_ready("web")
    pusher = Pusher(stack.web_url, viewer["token"])
    pushing = threading.Thread(target=pusher.run, daemon=True)
    run = sdk.init(stack.web_url, viewer["token"], "through-the-gap", "faults", flush_interval_s=0.2, max_backoff_s=1.0)
    trainer = Trainer(run)
    try:
        assert run.id is not None, stack.tail("web")
        pushing.start()
        trainer.thread.start()
        wait_until(lambda: len(pusher.ok()) >= 5 and run.sent > 0, "pushes before the restart", 30)

        stack.postgres.stop("fast")
        down_at = time.monotonic()
        time.sleep(DOWN_S)
        # PostgreSQL accepts connections a moment before pg_ctl notices and returns: the
        # window "down" ends when the start begins.
        starting_at = time.monotonic()
        stack.postgres.start()
        up_at = time.monotonic()
        wait_until(lambda: sum(a.sent_at > up_at for a in pusher.ok()) >= 5, "pushes after the restart", 30)
    finally:
        pusher.stopping.set()
        trainer.stopping.set()
        pushing.join(timeout=40)
        trainer.thread.join(timeout=5)
        run.finish()

    during = [a for a in pusher.answers if down_at + 0.5 < a.sent_at and a.sent_at + a.elapsed_s < starting_at]
    assert len(during) >= 10, f"only {len(during)} pushes while the database was down"
    statuses = sorted({a.status for a in during})
    assert statuses == [503], f"answers while down: {statuses}\n" + stack.tail("web")
    assert all(a.retry_after and int(a.retry_after) > 0 for a in during)
    assert max(a.elapsed_s for a in pusher.answers) < 5.0, "a push hung"
    assert {a.status for a in pusher.answers} <= {200, 503}, stack.tail("web")

    stored = [ts for ts, _ in stack.samples("fault_push", src="pusher")]
    assert stored == sorted(a.ts_ms for a in pusher.ok()), "a push answered 200 is missing, or a refused one stored"

    assert (run.status, run.dropped, run.sent) == ("finished", 0, 2 * trainer.steps)
    steps = [value for _, value in stack.samples("train_step", run_id=run.id)]
    assert steps == [float(step) for step in range(trainer.steps)]
    assert len(stack.samples("train_loss", run_id=run.id)) == trainer.steps
    logger.info(
        "database down %.1f s: %d pushes answered 503 with Retry-After (slowest %.2f s); "
        "%d answered 200 before and after, all stored; the training run's %d steps all stored",
        starting_at - down_at,
        len(during),
        max(a.elapsed_s for a in during),
        len(pusher.ok()),
        trainer.steps,
    )
