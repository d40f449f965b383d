"""`make run` on a fresh var/ directory: everything starts, /healthz turns 200, Ctrl-C stops all.

Runs the real Makefile, honcho, daphne, a Celery worker and beat, and a private Redis on a
free port (the path taken when nothing answers at REDIS_URL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server for the private Redis"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    def __init__(self, var_dir: Path, redis_port: int, *, demo: bool) -> None:
        self.port = free_port()
        self.var_dir = var_dir
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MAKEFLAGS"}}
        env.update(OPSBOARD_VAR_DIR=str(var_dir), REDIS_URL=self.redis_url, HEARTBEAT_INTERVAL="2")
        env.update(OPSBOARD_DEMO="1" if demo else "0", OPSBOARD_DEMO_PORT=str(free_port()))
        self.log = var_dir / f"run-{self.port}.log"
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={self.port}"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def wait_healthy(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                response = httpx.get(f"{self.base}/healthz", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"/healthz never answered 200:\n{self.output()[-3000:]}")

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.var_dir / "opsboard.sqlite3", timeout=10) as db:
            return db.execute(sql).fetchall()

    def wait_for_rows(self, sql: str, timeout: float = 90) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.rows(sql)
            if found:
                return found
            time.sleep(1)
        raise AssertionError(f"nothing for {sql!r} within {timeout} s:\n{self.output()[-3000:]}")

    def heartbeat(self) -> float:
        raw = redis.Redis.from_url(self.redis_url).get("opsboard:heartbeat")
        return float(raw)

    def interrupt(self) -> None:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole process group; then wait."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while self.live_processes() and time.monotonic() < deadline:
            time.sleep(0.2)

    def live_processes(self) -> list[str]:
        """Processes of the group that still run (zombies awaiting their parent do not)."""
        live = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, pgid = fields[0], int(fields[2])
            if pgid == self.process.pid and state != "Z":
                live.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        return live


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        if run.live_processes():
            os.killpg(run.process.pid, signal.SIGKILL)


def test_make_run_serves_and_ctrl_c_stops_everything(tmp_path: Path, runs: list[Run]) -> None:
    redis_port = free_port()
    first = Run(tmp_path, redis_port, demo=True)
    runs.append(first)
    body = first.wait_healthy()
    assert body["checks"]["database"]["detail"] == "sqlite"
    login = httpx.get(f"{first.base}/login/", timeout=5)
    assert login.status_code == 200 and 'name="password"' in login.text
    assert httpx.get(f"{first.base}/static/css/opsboard.css", timeout=5).status_code == 200
    beat = first.heartbeat()
    time.sleep(5)
    assert first.heartbeat() > beat, "the heartbeat does not move: worker or beat is not running"
    output = first.output()
    assert "Created the first Admin" in output and "password:" in output
    assert "starting a private Redis" in output

    # The demo moves: its model server is scraped and probed, this machine polled, a run trains.
    both_up = "SELECT COUNT(*) FROM monitoring_modelendpoint WHERE last_up = 1 GROUP BY last_up HAVING COUNT(*) = 2"
    first.wait_for_rows(both_up)
    assert sorted(first.rows("SELECT name FROM monitoring_modelendpoint")) == [("demo-cnn",), ("demo-cnn-torch",)]
    assert first.wait_for_rows("SELECT name FROM monitoring_gpunode WHERE last_up = 1") == [("this-machine",)]
    first.wait_for_rows("SELECT name FROM monitoring_trainingrun WHERE last_step > 10")

    first.interrupt()
    assert first.live_processes() == [], "Ctrl-C left processes running"
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(first.redis_url, socket_connect_timeout=1).ping()

    second = Run(tmp_path, redis_port, demo=False)
    runs.append(second)
    second.wait_healthy()
    assert "An Admin exists already" in second.output()
    assert (tmp_path / "opsboard.sqlite3").exists()
    second.interrupt()
    assert second.live_processes() == []
