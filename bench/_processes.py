"""Subprocesses of the benchmarks (Celery workers, daphne, Prometheus) and a private Redis
database for their queues; everything started here is stopped whatever happens.

``Processes`` is a context manager: each process it starts gets its own session and a log
file, and on exit (an error, Ctrl-C or SIGTERM included) each is terminated, then killed
after a timeout, newest first.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CLAIM_KEY = "opsboard-bench:claimed-by"
logger = logging.getLogger("bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database Django uses now (the scratch one, once it is created)."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so that every ``finally`` runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C while cleaning up must not leave processes behind."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- A Redis database of our own -----------------------------------------------------------


def claim_redis_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """An empty database of the Redis server at ``base_url``, claimed with a marker key, for
    the Celery queues of one run: workers of other runs or of a development server on the same
    Redis then neither take our tasks nor leave theirs in our queues (Celery's queue names,
    such as ``alerts``, carry no prefix). Returns its URL and a function that empties it and
    gives it back: call it once the workers are stopped; it also runs when this process exits,
    should nobody call it. Falls back to ``base_url`` (and a function doing nothing) when no
    database is free."""
    import redis

    parts = urlsplit(base_url)
    for db in range(15, 0, -1):
        url = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, os.getpid(), nx=True, ex=6 * 3600):
                release = _releaser(client)
                atexit.register(release)
                return url, release
        except redis.ResponseError:  # fewer databases configured
            break
        except redis.RedisError as exc:
            logger.warning("Redis at %s: %s", base_url, exc)
            break
    logger.warning("no free Redis database; the queues are shared with whatever else uses %s", base_url)
    return base_url, lambda: None


def _releaser(client: object) -> Callable[[], None]:
    import redis

    def release() -> None:
        try:
            if client.get(CLAIM_KEY) == str(os.getpid()).encode():
                client.flushdb()  # empty when claimed: every key in it is this run's
        except redis.RedisError as exc:
            logger.warning("could not empty the bench's Redis database: %s", exc)

    return release


# --- Processes -----------------------------------------------------------------------------


class Processes:
    """Processes started for one benchmark run, each stopped on exit (newest first)."""

    def __init__(self, workdir: Path, stop_timeout_s: float = 20.0) -> None:
        self.workdir = workdir
        self.stop_timeout_s = stop_timeout_s
        self.started: list[tuple[str, subprocess.Popen]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with self.log(name).open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
            )
        self.started.append((name, process))
        return process

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def check(self) -> None:
        """Stop the run when a process died: its log says why."""
        for name, process in self.started:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def wait_for_log(self, name: str, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check()
            if text in self.log(name).read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise SystemExit(f"{name} did not log {text!r} within {timeout_s:g} s:\n{self.tail(name)}")

    def stop_all(self) -> None:
        with _sigint_ignored():
            while self.started:
                name, process = self.started.pop()
                self.stop(name, process)

    def stop(self, name: str, process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %g s; killing it", name, self.stop_timeout_s)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: it and its children
            process.wait(timeout=30)

    # --- The kinds of process the benchmarks start --------------------------------------------

    def celery_worker(self, name: str, queues: str, concurrency: int, env: dict[str, str]) -> subprocess.Popen:
        """A thread-pool worker as the Procfile's poller and evaluator, ready once it says so."""
        command = [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "opsboard",
            "worker",
            "--queues",
            queues,
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}-{os.getpid()}@%h",
        ]
        process = self.start(name, command, env)
        self.wait_for_log(name, " ready.")
        return process

    def daphne(self, port: int, env: dict[str, str]) -> str:
        """The ASGI app under daphne, as the Procfile's web; its URL once /healthz answers."""
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "opsboard.asgi:application"]
        self.start("daphne", command, env)
        url = f"http://127.0.0.1:{port}"
        self.wait_http("daphne", f"{url}/login/")
        return url

    def wait_http(self, name: str, url: str, timeout_s: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{name} did not answer {url} within {timeout_s:g} s:\n{self.tail(name)}")
