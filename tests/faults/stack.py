"""The application as the Procfile runs it, on the private PostgreSQL and Redis of the fault
tests: daphne, Celery workers and beat as subprocesses, each in its own session with its own
log; a world set up by ``tests.faults.world`` in a Django subprocess; a Celery client to send
tasks as beat would; and SQL straight on the private database for the assertions.

Every process started here is stopped when the test ends, whatever happened (SIGTERM, then
SIGKILL to its session); none is ever restarted behind a test's back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery

from tests.faults.services import PrivatePostgres, PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "faults-" + "k" * 50  # shared by every process of a stack, so sessions made by the world work
PREFIX = "faults"


def wait_until(condition: Callable[[], Any], what: str, timeout_s: float, every_s: float = 0.1) -> Any:
    """The first truthy value of ``condition()``; fails the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


class Stack:
    """One test's application: a database of its own (a copy of the migrated template), the
    private Redis emptied, and the processes the test starts."""

    def __init__(self, postgres: PrivatePostgres, redis: PrivateRedis, database: str, workdir: Path, **env: str):
        self.postgres = postgres
        self.redis = redis
        self.database = database
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "opsboard.settings",
            "DATABASE_URL": postgres.url(database),
            "REDIS_URL": redis.url,
            "OPSBOARD_REDIS_PREFIX": PREFIX,
            "OPSBOARD_VAR_DIR": str(workdir / "var"),
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "OPSBOARD_DEMO": "0",
            "OPSBOARD_BASE_URL": "http://127.0.0.1:8000",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self._celery: Celery | None = None

    # --- processes -------------------------------------------------------------------------

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with self.log(name).open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def worker(self, name: str, queues: str, concurrency: int = 4, *, procfile: bool = False) -> subprocess.Popen:
        """A thread-pool worker as the Procfile's poller, evaluator and pager; started, not yet ready.
        Unless ``procfile``, without mingle and gossip (a second faster to start, nothing here uses them)."""
        command = [sys.executable, "-m", "celery", "--app", "opsboard", "worker", "--loglevel", "INFO"]
        command += ["--queues", queues, "--pool", "threads", "--concurrency", str(concurrency)]
        command += ["--hostname", f"{name}-{len(self.processes)}-{os.getpid()}@%h"]
        if not procfile:
            command += ["--without-mingle", "--without-gossip"]
        return self.start(name, command)

    def beat(self) -> subprocess.Popen:
        return self.start("beat", [sys.executable, "-m", "celery", "--app", "opsboard", "beat", "--loglevel", "INFO"])

    def daphne(self, port: int) -> subprocess.Popen:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "opsboard.asgi:application"]
        return self.start("web", command)

    def wait_ready(self, name: str, timeout_s: float = 90) -> None:
        """A worker logged `ready.`; daphne answers /healthz (whatever its verdict)."""
        if name == "web":
            wait_until(lambda: self._answers(f"{self.web_url}/login/"), "daphne to answer", timeout_s)
            return
        mark = " ready." if name != "beat" else "beat: Starting..."
        wait_until(lambda: self._check(name) and mark in self.text(name), f"{name} to be ready", timeout_s)

    @property
    def web_url(self) -> str:
        return self.env["FAULTS_WEB_URL"]

    def _answers(self, url: str) -> bool:
        self._check("web")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _check(self, name: str) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
        return True

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def kill(self, name: str) -> None:
        """SIGKILL to the process alone: no warm shutdown, no message given back to the broker."""
        process = self.processes[name]
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, name: str, chars: int = 4000) -> str:
        return self.text(name)[-chars:]

    def tails(self) -> str:
        return "\n".join(f"--- {name}\n{self.tail(name, 2500)}" for name in self.processes)

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    process.terminate()
        for process in reversed(list(self.processes.values())):
            try:
                process.wait(timeout=5)  # a warm shutdown may wait for tasks; nothing here needs it
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._celery is not None:
            self._celery.close()

    # --- the world, tasks, SQL ---------------------------------------------------------------

    def world(self, *steps: tuple[str, dict[str, Any]]) -> list[Any]:
        """Run ``tests.faults.world`` steps in one Django subprocess; their results in order."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.faults.world", json.dumps(steps)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            pytest.fail(f"world set-up failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def send_task(self, name: str, args: tuple = (), queue: str = "default") -> None:
        """What beat does: a task by name onto a queue of the private broker."""
        if self._celery is None:
            self._celery = Celery("faults-client")
            self._celery.config_from_object("django.conf:settings", namespace="CELERY")  # the same queues
            self._celery.conf.broker_url = self.redis.url
        self._celery.send_task(name, args, queue=queue)

    def sql(self, query: str, *params: Any) -> list[tuple]:
        return self.postgres.execute(self.database, query, params)

    def scalar(self, query: str, *params: Any) -> Any:
        rows = self.sql(query, *params)
        return rows[0][0] if rows else None

    def samples(self, name: str, **labels: str) -> list[tuple[int, float]]:
        """(ts_ms, value) of the series ``name`` with these labels, in time order."""
        return [
            (ts, value)
            for ts, value in self.sql(
                "SELECT s.ts, s.value FROM monitoring_sample s JOIN monitoring_series r ON r.id = s.series_id "
                "WHERE r.name = %s AND r.labels @> %s::jsonb ORDER BY s.ts",
                name,
                json.dumps(labels),
            )
        ]
