"""Fixtures of the fault tests: a private PostgreSQL cluster and a private Redis for the whole
session (started once, torn down at the end), and for each test a ``Stack``: a fresh database
copied from a migrated template, the private Redis emptied, and whatever processes the test
starts, all stopped when it ends. Faults are injected only into these private servers; the
shared PostgreSQL and Redis that other tests use are never touched.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.services import PrivatePostgres, PrivateRedis, missing_binaries
from tests.faults.stack import ROOT, Stack

TEMPLATE = "faults_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    if why := missing_binaries():
        pytest.skip(why)
    server = PrivateRedis(Path(tempfile.mkdtemp(prefix="opsboard-faults-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def private_postgres(private_redis: PrivateRedis) -> Iterator[PrivatePostgres]:
    """A cluster with one migrated database, the template of every test's database."""
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        server.execute("postgres", f"CREATE DATABASE {TEMPLATE}")
        env = Stack(server, private_redis, TEMPLATE, Path(server.root)).env
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        yield server
    finally:
        server.destroy()


@pytest.fixture
def stack(private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Stack]:
    """This test's application on the private servers; its processes are stopped at the end.
    Environment variables for the processes go in ``stack.env`` before they start."""
    if not private_postgres.running():
        private_postgres.start()  # a test that failed half-way through a restart
    if not private_redis.running():
        private_redis.start()
    database = f"faults_{next(_numbers)}"
    private_postgres.execute("postgres", f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
    private_redis.client().flushall()
    (tmp_path / "var").mkdir()
    app = Stack(private_postgres, private_redis, database, tmp_path)
    try:
        yield app
    finally:
        app.stop_all()
