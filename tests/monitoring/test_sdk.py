"""The training SDK against a fake Opsboard on loopback (the runs and push API as the contract
describes them, which can answer 503, refuse with 4xx, or vanish and come back on the same port),
and once against the real app under daphne, killed and restarted mid-run."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitoring import sdk

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fake-ingest-token"
SPECIAL = {"NaN", "+Inf", "-Inf"}
FINISH_PATH = re.compile(r"/api/v1/runs/([0-9a-f-]+)/finish\Z")


# --- the fake server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeOpsboard:
    """The contract's three endpoints, in memory. ``stop()`` then ``start()`` keeps the port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.runs: dict[str, dict[str, Any]] = {}
        self.samples: list[dict[str, Any]] = []  # as received, in order of arrival
        self.answers: list[int] = []  # the status of every push answered
        self.gzipped = 0  # requests that came gzip-encoded
        self._forced: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._refuse_all: tuple[int, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer_pushes(self, status: int, times: int, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` pushes get ``status`` (and the body is not kept)."""
        with self._lock:
            self._forced += [(status, {"error": "forced"}, headers or {})] * times

    def refuse_pushes(self, status: int | None, body: dict[str, Any] | None = None) -> None:
        """Every push gets ``status`` until called again with None."""
        with self._lock:
            self._refuse_all = None if status is None else (status, body or {"error": "refused"})

    def series(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.samples if s["name"] == name]

    def steps(self) -> list[int]:
        return [int(s["value"]) for s in self.series("train_step")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body, headers = fake.handle(self.path, self.headers, self._body())
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") != "gzip":
                    return raw
                fake.gzipped += 1
                return gzip.decompress(raw)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def handle(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"error": "no valid token"}, {}
        if headers.get("Content-Type") != "application/json":
            return 415, {"error": "JSON only here"}, {}
        body = json.loads(raw)
        if path == "/api/v1/runs":
            return self._create(body)
        if match := FINISH_PATH.match(path):
            return self._finish(match.group(1), body)
        if path == "/api/v1/push":
            return self._push(body)
        return 404, {"error": "no such endpoint"}, {}

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        run = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "project": body["project"],
            "config": body.get("config", {}),
            "status": "running",
            "started_at": "2030-01-01T00:00:00Z",
        }
        with self._lock:
            self.runs[run["id"]] = run
        return 201, run, {}

    def _finish(self, run_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            run = self.runs.get(run_id)
            if run is None:
                return 404, {"error": "no such run"}, {}
            if body.get("status") not in ("finished", "failed"):
                return 400, {"error": "bad status"}, {}
            run["status"] = body["status"]
            run["finishes"] = run.get("finishes", 0) + 1
            return 200, run, {}

    def _push(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            forced = self._forced.pop(0) if self._forced else None
            if forced is None and self._refuse_all is not None:
                forced = (*self._refuse_all, {})
            if forced is not None:
                self.answers.append(forced[0])
                return forced
            for sample in body["samples"]:
                check_sample(sample)
            self.samples += body["samples"]
            self.answers.append(200)
        return 200, {"accepted": len(body["samples"])}, {}


def check_sample(sample: dict[str, Any]) -> None:
    """The contract's sample shape; a failed assert answers 500, which the test will notice."""
    assert set(sample) == {"name", "labels", "value", "ts"}
    assert re.fullmatch(r"train_[a-zA-Z0-9_]+", sample["name"])
    assert all(isinstance(v, str) for v in sample["labels"].values())
    value = sample["value"]
    assert value in SPECIAL if isinstance(value, str) else isinstance(value, int | float)
    assert isinstance(sample["ts"], float)


# --- helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.fixture
def fake() -> Iterator[FakeOpsboard]:
    server = FakeOpsboard()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def runs() -> Iterator[list[sdk.Run]]:
    """Runs a test started; finished at teardown so that no sender outlives its test."""
    started: list[sdk.Run] = []
    yield started
    for run in started:
        run.finish()


def start_run(runs: list[sdk.Run], url: str, name: str = "r1", token: str = TOKEN, **kwargs: Any) -> sdk.Run:
    options = {"flush_interval_s": 0.05, "timeout_s": 1.0, "max_backoff_s": 0.1, **kwargs}
    run = sdk.init(url, token, name, "proj", {"lr": 0.1}, **options)
    runs.append(run)
    return run


def python(code: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)


# --- tests --------------------------------------------------------------------------------


def test_importing_the_sdk_imports_neither_django_nor_torch() -> None:
    code = "import sys, monitoring.sdk; print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'torch'}))"
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_series_names_are_sanitised() -> None:
    assert sdk.series_name("val/acc") == "train_val_acc"
    assert sdk.series_name("lr-group 0.weight") == "train_lr_group_0_weight"


def test_logged_samples_arrive_with_names_labels_timestamps_and_special_values(fake, runs) -> None:
    run = start_run(runs, fake.url)
    before = time.time()
    run.log({"loss": 0.42, "val/acc": 0.9, "nan": math.nan, "up": math.inf, "down": -math.inf}, step=10)
    after = time.time()
    run.finish()
    assert run.sent == 6 and run.dropped == 0
    by_name = {s["name"]: s for s in fake.samples}
    assert set(by_name) == {"train_loss", "train_val_acc", "train_nan", "train_up", "train_down", "train_step"}
    values = {name: s["value"] for name, s in by_name.items()}
    assert values == {
        "train_loss": 0.42,
        "train_val_acc": 0.9,
        "train_nan": "NaN",
        "train_up": "+Inf",
        "train_down": "-Inf",
        "train_step": 10,
    }
    assert all(s["labels"] == {"run": "r1", "project": "proj", "run_id": run.id} for s in fake.samples)
    assert len({s["ts"] for s in fake.samples}) == 1
    assert before - 0.001 <= fake.samples[0]["ts"] <= after
    assert fake.runs[run.id]["config"] == {"lr": 0.1}


def test_steps_logged_within_one_millisecond_keep_distinct_timestamps(fake, runs) -> None:
    """The store keys samples by (series, ms): two steps in one millisecond must not share a key."""
    run = start_run(runs, fake.url)
    for step in range(200):
        run.log({"loss": step}, step=step)
    run.finish()
    stamps = [s["ts"] for s in fake.series("train_loss")]
    assert len(stamps) == 200
    assert all(round(b * 1000) > round(a * 1000) for a, b in itertools.pairwise(stamps))


def test_log_never_blocks_while_the_server_is_down(runs) -> None:
    run = start_run(runs, f"http://127.0.0.1:{free_port()}", timeout_s=0.2)
    started = time.perf_counter()
    for step in range(100_000):
        run.log({"loss": 0.5}, step=step)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"100,000 log calls took {elapsed:.2f} s"
    assert run.pending == 100_000 and run.dropped == 100_000


def test_log_ignores_what_is_not_a_number(fake, runs) -> None:
    run = start_run(runs, fake.url)
    run.log({"loss": "abc", "thing": object(), "ok": True, "n": 3}, step=1)
    run.log("not a mapping", step=2)  # type: ignore[arg-type]
    run.finish()
    assert {s["name"]: s["value"] for s in fake.samples} == {"train_ok": 1.0, "train_n": 3.0, "train_step": 1.0}


def test_step_defaults_to_the_previous_one_plus_one(fake, runs) -> None:
    run = start_run(runs, fake.url)
    run.log({"loss": 1.0})
    run.log({"loss": 1.0}, step=10)
    run.log({"loss": 1.0})
    run.finish()
    assert fake.steps() == [0, 10, 11]


def test_a_gap_in_the_server_leaves_no_gap_in_the_data(fake, runs) -> None:
    run = start_run(runs, fake.url)
    for step in range(10):
        run.log({"loss": 1 / (step + 1)}, step=step)
    wait_for(lambda: len(fake.steps()) == 10)
    fake.stop()
    for step in range(10, 30):
        run.log({"loss": 1 / (step + 1)}, step=step)
        time.sleep(0.01)
    fake.start()
    for step in range(30, 40):
        run.log({"loss": 1 / (step + 1)}, step=step)
    run.finish()
    assert fake.steps() == list(range(40))
    stamps = [s["ts"] for s in fake.series("train_step")]
    assert stamps == sorted(set(stamps))
    assert [s["value"] for s in fake.series("train_loss")] == [1 / (step + 1) for step in range(40)]
    assert run.dropped == 0 and run.sent == 80


def test_503_is_retried_after_retry_after(fake, runs) -> None:
    fake.answer_pushes(503, times=3, headers={"Retry-After": "0"})
    run = start_run(runs, fake.url)
    for step in range(5):
        run.log({"loss": 1.0}, step=step)
    run.finish()
    assert fake.answers[:3] == [503, 503, 503]
    assert fake.steps() == list(range(5))
    assert run.dropped == 0 and run.sent == 10


def test_overflow_drops_the_oldest_and_counts_them(fake, runs, caplog) -> None:
    run = start_run(runs, fake.url, max_buffer=30)
    assert run.id is not None
    fake.stop()
    for step in range(50):
        run.log({"loss": float(step)}, step=step)  # 100 samples into 30 places
    time.sleep(0.2)
    fake.start()
    run.finish()
    assert run.dropped == 70 and run.sent == 30
    assert fake.steps() == list(range(35, 50))
    assert [s["value"] for s in fake.series("train_loss")] == [float(step) for step in range(35, 50)]
    assert sum("buffer" in r.getMessage() for r in caplog.records) == 1


def test_a_refused_batch_is_dropped_counted_and_logged_once(fake, runs, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="opsboard.sdk")
    fake.refuse_pushes(413, {"error": "too many samples", "limit": "PUSH_MAX_SAMPLES"})
    run = start_run(runs, fake.url)
    for step in range(5):
        run.log({"loss": 1.0}, step=step)
        time.sleep(0.02)
    wait_for(lambda: run.dropped == 10)
    fake.refuse_pushes(None)
    for step in range(5, 10):
        run.log({"loss": 2.0}, step=step)
    run.finish()
    assert fake.steps() == list(range(5, 10))
    assert run.dropped == 10 and run.sent == 10
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "PUSH_MAX_SAMPLES" in refusals[0]


def test_finish_marks_the_run_and_twice_is_harmless(fake, runs) -> None:
    run = start_run(runs, fake.url)
    run.log({"loss": 1.0}, step=0)
    run.finish()
    run.finish("failed")
    assert fake.runs[run.id]["status"] == "finished" and fake.runs[run.id]["finishes"] == 1
    assert run.status == "finished"
    run.log({"loss": 1.0}, step=1)  # after finish: counted, never sent
    assert run.dropped == 2 and run.sent == 2


def test_finish_failed(fake, runs) -> None:
    run = start_run(runs, fake.url)
    try:
        raise RuntimeError("training blew up")
    except RuntimeError:
        run.finish("failed")
    assert fake.runs[run.id]["status"] == "failed"


def test_finish_gives_up_in_bounded_time_when_the_server_is_gone(runs, caplog) -> None:
    run = start_run(runs, f"http://127.0.0.1:{free_port()}", timeout_s=0.2)
    run.log({"loss": 1.0}, step=0)
    started = time.monotonic()
    run.finish()
    assert time.monotonic() - started < 0.2 * 3 + 1.0
    assert run.dropped == 2 and run.status == "pending"
    assert any("gave up" in r.getMessage() for r in caplog.records)


def test_an_uncaught_exception_marks_the_run_failed(fake) -> None:
    code = f"""
from monitoring import sdk
run = sdk.init({fake.url!r}, {TOKEN!r}, "crashy", "proj", flush_interval_s=0.1, timeout_s=1.0)
run.log({{"loss": 1.0}}, step=0)
raise RuntimeError("boom")
"""
    result = python(code)
    assert result.returncode == 1 and "RuntimeError: boom" in result.stderr  # the original hook still ran
    (run,) = fake.runs.values()
    assert run["status"] == "failed"
    assert fake.steps() == [0]


def test_a_script_that_forgets_finish_still_delivers(fake) -> None:
    code = f"""
from monitoring import sdk
run = sdk.init({fake.url!r}, {TOKEN!r}, "forgetful", "proj", flush_interval_s=30, timeout_s=1.0)
for step in range(3):
    run.log({{"loss": 1.0}}, step=step)
"""
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    (run,) = fake.runs.values()
    assert run["status"] == "finished"
    assert fake.steps() == [0, 1, 2]


def test_init_while_the_server_is_down_creates_the_run_when_it_comes_back(runs) -> None:
    fake = FakeOpsboard(free_port())
    started = time.monotonic()
    run = start_run(runs, fake.url)
    assert time.monotonic() - started < 0.5
    for step in range(5):
        run.log({"loss": 1.0}, step=step)
    time.sleep(0.2)
    assert run.id is None
    fake.start()
    try:
        wait_for(lambda: run.id is not None)
        run.finish()
    finally:
        fake.stop()
    assert list(fake.runs) == [run.id] and fake.runs[run.id]["status"] == "finished"
    assert fake.steps() == list(range(5))
    assert run.dropped == 0


def test_a_refused_run_drops_its_metrics_without_raising(fake, runs, caplog) -> None:
    run = start_run(runs, fake.url, token="wrong")
    run.log({"loss": 1.0}, step=0)
    run.finish()
    assert run.id is None and run.dropped == 2 and run.sent == 0
    assert not fake.runs
    assert any("refused to create" in r.getMessage() for r in caplog.records)


def test_log_from_several_threads(fake, runs) -> None:
    run = start_run(runs, fake.url)

    def train(offset: int) -> None:
        for step in range(offset, offset + 1000):
            run.log({"loss": float(step)}, step=step)

    threads = [threading.Thread(target=train, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    assert sorted(fake.steps()) == list(range(4000))
    assert [s["value"] for s in fake.series("train_loss")] == [float(step) for step in fake.steps()]
    stamps = [s["ts"] for s in fake.series("train_step")]
    assert stamps == sorted(set(stamps))
    assert run.sent == 8000 and run.dropped == 0


def test_large_batches_go_gzipped_and_in_pieces(fake, runs) -> None:
    run = start_run(runs, fake.url, flush_interval_s=5.0)
    for step in range(6000):
        run.log({"loss": 0.5}, step=step)
    run.finish()
    assert fake.steps() == list(range(6000))
    assert len(fake.answers) == 3  # 12,000 samples at 5,000 a request
    assert fake.gzipped == 3


def test_torch_stats_give_grad_norm_step_time_and_throughput() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = sdk.TorchStats(model)
    assert stats.grad_norm() == 0.0
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    with stats.step(len(x)) as values:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        expected = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
        optimizer.step()
    assert values["grad_norm"] > 0 and values["grad_norm"] == pytest.approx(expected, rel=1e-5)
    assert values["step_time_s"] > 0
    assert values["samples_per_s"] == pytest.approx(16 / values["step_time_s"])
    assert ("gpu_max_memory_allocated_bytes" in values) == torch.cuda.is_available()
    stats.before_step()
    assert stats.after_step(4)["samples_per_s"] > 0


def test_example_cnn_trains_and_logs_its_run(fake) -> None:
    command = [sys.executable, "examples/train_cnn.py", "--url", fake.url, "--token", TOKEN, "--steps", "30"]
    command += ["--name", "cnn-test", "--flush-interval", "0.2"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and "30 steps" in result.stdout
    (run,) = fake.runs.values()
    assert (run["name"], run["project"], run["status"]) == ("cnn-test", "mnist-synthetic", "finished")
    assert fake.steps() == list(range(30))
    losses = [s["value"] for s in fake.series("train_loss")]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    names = {s["name"] for s in fake.samples}
    assert {"train_accuracy", "train_lr", "train_grad_norm", "train_step_time_s", "train_samples_per_s"} <= names


def test_example_cnn_stopped_with_sigterm_ends_its_run_failed(fake) -> None:
    command = [sys.executable, "examples/train_cnn.py", "--url", fake.url, "--steps", "100000", "--step-delay", "0.05"]
    env = {**os.environ, "OPSBOARD_TOKEN": TOKEN}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: fake.runs and fake.steps(), timeout_s=60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 128 + signal.SIGTERM
    finally:
        process.kill()
        process.communicate()
    (run,) = fake.runs.values()
    assert run["status"] == "failed"


def test_small_cnn_imports_without_side_effects() -> None:
    code = """
import sys, torch
path = list(sys.path)
from examples.train_cnn import SmallCNN
assert sys.path == path
print(SmallCNN()(torch.zeros(2, 1, 28, 28)).shape)
"""
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "torch.Size([2, 10])\n"


# --- against the real app -----------------------------------------------------------------


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_daphne(port: int, log: Path) -> subprocess.Popen[bytes]:
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": settings.REDIS_URL,
        "OPSBOARD_REDIS_PREFIX": settings.REDIS_KEY_PREFIX,
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "opsboard.asgi:application"]
    with log.open("ab") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return server
        time.sleep(0.1)
    server.kill()
    raise AssertionError(f"daphne did not listen on {port}: {log.read_text()}")


def kill(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        server.send_signal(signal.SIGKILL)
    server.wait(10)


def ingest_token() -> str:
    from opsboard.accounts.models import Role, User
    from opsboard.accounts.services import create_token
    from opsboard.audit.services import Actor

    Role.objects.get_or_create(slug="viewer", defaults={"name": "Viewer", "description": "viewer"})
    user = User(username="trainer", email="trainer@example.test", role_id="viewer")
    user.save()
    return create_token(user=user, name="sdk", scopes=["ingest"], by=Actor.system("test"))[1]


def stored_values(run_id: str, name: str) -> list[float | None]:
    from monitoring.models import Sample, Series

    series = list(Series.objects.filter(name=name, labels__run_id=run_id).values_list("id", flat=True))
    return list(Sample.objects.filter(series_id__in=series).order_by("ts").values_list("value", flat=True))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_app_killed_mid_run_loses_and_duplicates_nothing(tmp_path) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("runs the app under daphne on the test database: needs DATABASE_URL=postgres://…")
    token = ingest_token()
    port = free_port()
    log = tmp_path / "daphne.log"
    server = start_daphne(port, log)
    url = f"http://127.0.0.1:{port}"
    run = sdk.init(url, token, "survivor", "sdk-test", {"lr": 0.1}, flush_interval_s=0.2, max_backoff_s=1.0)
    try:
        assert run.id is not None, log.read_text()
        for step in range(60):
            if step == 20:
                wait_for(lambda: run.sent >= 40)
                kill(server)
            if step == 40:
                server = start_daphne(port, log)
            run.log({"loss": 1 / (step + 1)}, step=step)
            time.sleep(0.01)
        run.finish()
    finally:
        run.finish("failed")
        kill(server)
    assert run.status == "finished" and run.dropped == 0, log.read_text()
    assert stored_values(run.id, "train_loss") == [pytest.approx(1 / (step + 1)) for step in range(60)]
    assert stored_values(run.id, "train_step") == [float(step) for step in range(60)]
