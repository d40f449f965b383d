"""Real Celery workers, each a subprocess consuming its own queues, against the PostgreSQL
test database (the transactional one, so that other processes see its rows) and this
run's Redis database. Every worker started is stopped (terminated, then killed) whatever
the test did, and the queues it used are emptied before and after."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from bench._processes import Processes
from opsboard.celery import app

Workers = dict[str, subprocess.Popen]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge(queues: list[str]) -> None:
    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def worker_command(name: str, queues: str, concurrency: int) -> list[str]:
    return [
        *(sys.executable, "-m", "celery", "--app", "opsboard", "worker", "--queues", queues),
        *("--pool", "threads", "--concurrency", str(concurrency), "--without-mingle", "--without-gossip"),
        *("--loglevel", "INFO", "--hostname", f"{name}-{os.getpid()}@%h"),
    ]


class CeleryWorkers:
    """Workers started by one test, in ``processes``; their queues are noted for purging."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.queues: list[str] = ["pages", "pages-critical"]  # deliveries nobody here consumes

    def start(self, queues: dict[str, str], *, concurrency: int = 4, env: dict[str, str] | None = None) -> Workers:
        """One worker per ``{name: "queue,queue"}``, returned once each says it is ready."""
        self.queues += [q for names in queues.values() for q in names.split(",")]
        purge(self.queues)  # tasks left in this Redis database by earlier tests
        env = {
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "OPSBOARD_REDIS_PREFIX": settings.REDIS_KEY_PREFIX,
            **(env or {}),
        }
        workers = {
            name: self.processes.start(name, worker_command(name, names, concurrency), env)
            for name, names in queues.items()
        }
        for name in workers:
            self.processes.wait_for_log(name, " ready.")
        return workers

    def log(self, name: str) -> str:
        return self.processes.log(name).read_text(errors="replace")


@pytest.fixture
def celery_workers(transactional_db: None, tmp_path: Path) -> Iterator[CeleryWorkers]:
    if connection.vendor != "postgresql":
        pytest.skip("workers in other processes need the PostgreSQL test database (SQLite's lives in memory)")
    workers = CeleryWorkers(Processes(tmp_path))
    try:
        yield workers
    finally:
        workers.processes.stop_all()
        purge(workers.queues)


def owner(client_port: int, workers: Workers) -> str | None:
    """The worker whose socket on ``client_port`` is talking to us (None: none of them)."""
    for name, process in workers.items():
        if any(c.laddr and c.laddr.port == client_port for c in psutil.Process(process.pid).net_connections("tcp")):
            return name
    return None
