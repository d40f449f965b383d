"""Opsboard's training SDK: a run's metrics from a training script, without ever slowing it down.

    from monitoring import sdk

    run = sdk.init("http://opsboard:8000", token, name="resnet-7", project="vision", config={"lr": 3e-4})
    for step, (x, y) in enumerate(loader):
        ...
        run.log({"loss": loss.item(), "val/acc": acc}, step=step)
    run.finish()

Standard library only (``TorchStats`` imports torch when it is built, never before), so it runs
wherever a training job does, Django or not. ``Run.log`` appends to a bounded in-memory buffer
and returns: no I/O, no exception, whatever the server is doing. A daemon thread sends the buffer
through the push API in batches and, when the server is slow, down or overloaded, keeps the batch
and tries again later. Every ``log`` call becomes one sample per key, ``train_<key>``, plus
``train_step``, all labelled ``{run, project, run_id}`` and stamped with the time of the call.

Samples are stamped in whole milliseconds, strictly increasing within a run: the store keys a
sample by (series, millisecond) and keeps the first it receives, so two steps logged within one
millisecond would otherwise share a key and one of them would be lost; above 1,000 calls a second
the stamps run slightly ahead of the clock. The same key is what makes retries safe: a batch whose
answer was lost (the server committed it, then the connection broke) is sent again with the same
stamps, and the store ignores the copies.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import gzip
import http.client
import json
import logging
import math
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["Run", "TorchStats", "init", "series_name"]

log = logging.getLogger("opsboard.sdk")

BATCH_SAMPLES = 5_000
GZIP_ABOVE_BYTES = 32 * 1024
BACKOFF_BASE_S = 0.5
QUIET_INTERVAL_S = 60.0
FINISH_WAIT_FACTOR = 3
STATUSES = ("finished", "failed")

_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")

# A buffered sample: (series name, ms since the epoch, value).
Buffered = tuple[str, int, float]


def init(
    url: str,
    token: str,
    name: str,
    project: str,
    config: Mapping[str, Any] | None = None,
    *,
    flush_interval_s: float = 2.0,
    max_buffer: int = 100_000,
    timeout_s: float = 5.0,
    max_backoff_s: float = 30.0,
) -> Run:
    """Start a run and its sender thread.

    The run is created at once when the server answers within ``timeout_s``; otherwise the
    sender keeps trying in the background and the returned run buffers what is logged meanwhile.
    """
    run = Run(
        url,
        token,
        name,
        project,
        config,
        flush_interval_s=flush_interval_s,
        max_buffer=max_buffer,
        timeout_s=timeout_s,
        max_backoff_s=max_backoff_s,
    )
    run._start()
    return run


def series_name(key: str) -> str:
    """The series a logged key is written to: ``val/acc`` → ``train_val_acc``."""
    return "train_" + _UNSAFE.sub("_", str(key))


def json_value(value: float) -> float | str:
    """A float as the push API takes it: JSON has no NaN or infinities, so those go as text."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def plain(value: object) -> Any:
    """``value`` as plain JSON (for a run's config): unknown types as text, NaN and ±Inf as text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return json_value(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


class Outcome(enum.Enum):
    OK = "ok"
    RETRY = "retry"  # no answer, 5xx or 429: the same request may succeed later
    REFUSED = "refused"  # any other 4xx: it never will


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    retry_after_s: float | None = None
    error: str = ""


def post_json(url: str, token: str, payload: object, timeout_s: float) -> Answer:
    """POST ``payload`` as JSON (gzipped when large); every failure becomes an Answer, never an exception."""
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "opsboard-sdk",
    }
    if len(data) > GZIP_ABOVE_BYTES:
        data = gzip.compress(data, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return Answer(Outcome.OK, response.status, _json_object(response.read()))
    except urllib.error.HTTPError as exc:
        return _http_error(exc)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Answer(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")


def _http_error(exc: urllib.error.HTTPError) -> Answer:
    try:
        body = _json_object(exc.read())
    except (OSError, http.client.HTTPException):
        body = {}
    retryable = exc.code >= 500 or exc.code == 429
    error = str(body.get("error") or exc.reason)
    if body.get("limit"):
        error += f" (limit {body['limit']})"
    outcome = Outcome.RETRY if retryable else Outcome.REFUSED
    return Answer(outcome, exc.code, body, _retry_after(exc.headers.get("Retry-After")), f"HTTP {exc.code}: {error}")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _retry_after(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: rare enough that the backoff alone will do


def as_float(value: object) -> float | None:
    """A logged value as float64, or None when it is not a number (a bool counts as 0 or 1)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of several elements
        return None


class Quiet:
    """Log lines rate-limited per key: at most one per interval, then a count of the ones held back.

    A sender retrying against a dead server would otherwise write a line per attempt, forever.
    """

    def __init__(self, interval_s: float = QUIET_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, level: int, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message += " (%d similar messages held back)"
            args = (*args, held)
        log.log(level, message, *args, exc_info=exc_info)


class Progress(enum.Enum):
    IDLE = "idle"  # everything buffered was delivered
    RETRY = "retry"  # the server did not take it: back off
    DONE = "done"  # the sender's work is over


class Run:
    """One training run: ``log`` buffers, a daemon thread delivers. See ``init``."""

    def __init__(
        self,
        url: str,
        token: str,
        name: str,
        project: str,
        config: Mapping[str, Any] | None,
        *,
        flush_interval_s: float,
        max_buffer: int,
        timeout_s: float,
        max_backoff_s: float,
    ) -> None:
        if max_buffer < 1 or flush_interval_s <= 0 or timeout_s <= 0 or max_backoff_s <= 0:
            raise ValueError("max_buffer must be at least 1 and the intervals positive")
        self.url = url.rstrip("/")
        self.name = str(name)
        self.project = str(project)
        self.config = plain(config or {})
        self.id: str | None = None
        self.status = "pending"
        self._token = token
        self._flush_interval_s = flush_interval_s
        self._timeout_s = timeout_s
        self._max_backoff_s = max_backoff_s
        self._buffer: deque[Buffered] = deque(maxlen=max_buffer)
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._last_ts_ms = 0
        self._last_step = -1.0
        self._dropped = 0
        self._sent = 0
        self._closed = False  # finish() was called: log() no longer buffers
        self._finishing = False  # the sender delivers what is left, marks the run, and stops
        self._disabled = False  # the server refused the run itself: nothing can ever be delivered
        self._final_status = "finished"
        self._deadline = math.inf
        self._retry_after_s: float | None = None
        self._failures = 0
        self._overflow_warned = False
        self._wake = threading.Event()
        self._quiet = Quiet()
        self._thread = threading.Thread(target=self._loop, name=f"opsboard-sdk-{self.name}", daemon=True)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.name} id={self.id} status={self.status}>"

    # --- the training side ------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Samples that will never be delivered: overflowed, refused with a 4xx, or left at finish."""
        return self._dropped

    @property
    def sent(self) -> int:
        """Samples the server accepted."""
        return self._sent

    @property
    def pending(self) -> int:
        """Samples buffered and not yet delivered (a batch in flight is not counted)."""
        return len(self._buffer)

    def _start(self) -> None:
        """Try to create the run now (one attempt), then start the sender, which retries if need be."""
        self._create()
        _register(self)
        self._thread.start()

    def log(self, metrics: Mapping[str, object], step: int | None = None) -> None:
        """Buffer one sample per key plus ``train_step``. O(len(metrics)), no network, never raises.

        ``step`` defaults to the previous step plus one. A value that is not a number is left out
        (with a warning, at most one a minute per key); NaN and ±Inf are kept.
        """
        try:
            self._log(metrics, step)
        except Exception:
            self._quiet(logging.WARNING, "log", "run.log could not read its arguments; call ignored", exc_info=True)

    def _log(self, metrics: Mapping[str, object], step: int | None) -> None:
        now_ms = time.time_ns() // 1_000_000
        values = []
        for key, raw in metrics.items():
            value = as_float(raw)
            if value is None:
                self._quiet(logging.WARNING, f"not-a-number:{key}", "run.log: %r is not a number: %.80r", key, raw)
                continue
            values.append((self._series(key), value))
        with self._lock:
            step_value = float(self._last_step + 1 if step is None else step)
            self._last_step = step_value
            ts_ms = self._last_ts_ms = max(now_ms, self._last_ts_ms + 1)
            samples = [(name, ts_ms, value) for name, value in values if name != "train_step"]
            samples.append(("train_step", ts_ms, step_value))
            overflow = self._buffer_samples(samples)
        if overflow and not self._overflow_warned:
            self._overflow_warned = True
            log.warning(
                "run %s: the buffer of %d samples is full; the oldest are being dropped (see run.dropped)",
                self.name,
                self._buffer.maxlen,
            )

    def _series(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = series_name(key)
        return name

    def _buffer_samples(self, samples: list[Buffered]) -> int:
        """Append under the lock; returns how many samples fell out.

        The deque drops from the old end: when the server is away for longer than the buffer
        lasts, the recent past (where the run is now) is worth more than its beginning.
        """
        if self._closed or self._disabled:
            self._dropped += len(samples)
            return 0
        overflow = max(0, len(self._buffer) + len(samples) - (self._buffer.maxlen or 0))
        self._dropped += overflow
        self._buffer.extend(samples)
        return overflow

    def finish(self, status: str = "finished") -> None:
        """Deliver what is buffered, mark the run ``status`` and stop the sender; idempotent.

        Waits at most ``3 * timeout_s`` (plus a second); what is still undelivered then is dropped.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if status not in STATUSES:
            log.warning("run %s: finish(status=%r) is not one of %s; using 'failed'", self.name, status, STATUSES)
            status = "failed"
        self._final_status = status
        self._deadline = time.monotonic() + FINISH_WAIT_FACTOR * self._timeout_s
        self._finishing = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, self._deadline - time.monotonic()) + 1.0)
        _unregister(self)

    # --- the sender thread ------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                progress = self._work()
            except Exception:  # a bug here must cost the run its metrics, never the training job
                self._quiet(logging.ERROR, "crash", "run %s: the sender failed; retrying", self.name, exc_info=True)
                progress = Progress.RETRY
            if progress is Progress.DONE:
                return
            self._failures = self._failures + 1 if progress is Progress.RETRY else 0
            delay = self._backoff_s() if self._failures else self._flush_interval_s
            if self._finishing:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    self._give_up()
                    return
                delay = min(delay, remaining)
            self._wake.wait(delay)

    def _work(self) -> Progress:
        if self._disabled:
            return Progress.DONE
        if self.id is None and not self._create():
            return Progress.DONE if self._disabled else Progress.RETRY
        while batch := self._take():
            if not self._send(batch):
                return Progress.RETRY
            if self._finishing and time.monotonic() >= self._deadline:
                return Progress.RETRY
        if self._finishing:
            return Progress.DONE if self._mark_finished() else Progress.RETRY
        return Progress.IDLE

    def _backoff_s(self) -> float:
        """Capped exponential backoff with jitter (half to all of the ceiling), at least Retry-After.

        The jitter keeps many jobs that lost the same server from all coming back in one burst.
        """
        ceiling = min(self._max_backoff_s, BACKOFF_BASE_S * 2 ** min(self._failures - 1, 30))
        delay = random.uniform(ceiling / 2, ceiling)
        if self._retry_after_s is not None:
            delay = max(delay, min(self._retry_after_s, self._max_backoff_s))
        return delay

    def _post(self, path: str, payload: object) -> Answer:
        timeout_s = self._timeout_s
        if self._finishing:
            timeout_s = min(timeout_s, max(0.1, self._deadline - time.monotonic()))
        answer = post_json(self.url + path, self._token, payload, timeout_s)
        self._retry_after_s = answer.retry_after_s
        if answer.outcome is Outcome.RETRY:
            self._quiet(logging.WARNING, "retry", "run %s: %s failed (%s); will retry", self.name, path, answer.error)
        elif self._failures:
            log.info("run %s: the server answers again after %d failed attempts", self.name, self._failures)
            self._failures = 0
        return answer

    def _create(self) -> bool:
        payload = {"name": self.name, "project": self.project, "config": self.config}
        answer = self._post("/api/v1/runs", payload)
        if answer.outcome is Outcome.OK and isinstance(answer.body.get("id"), str):
            self.id = answer.body["id"]
            self.status = str(answer.body.get("status", "running"))
            self._labels = {"run": self.name, "project": self.project, "run_id": self.id}
            return True
        if answer.outcome is not Outcome.RETRY:
            self._disable(answer.error or f"no run id in the answer: {answer.body!r:.200}")
        return False

    def _disable(self, why: str) -> None:
        """The server refused the run itself (bad token, bad name): nothing logged can ever be sent."""
        with self._lock:
            self._disabled = True
            self._dropped += len(self._buffer)
            self._buffer.clear()
        log.error("run %s: the server refused to create it (%s); its metrics will be dropped", self.name, why)

    def _take(self) -> list[Buffered]:
        with self._lock:
            return [self._buffer.popleft() for _ in range(min(BATCH_SAMPLES, len(self._buffer)))]

    def _send(self, batch: list[Buffered]) -> bool:
        """Push one batch; False when it must be retried (it is back at the head of the buffer)."""
        labels = self._labels
        samples = [{"name": n, "labels": labels, "value": json_value(v), "ts": ts / 1000} for n, ts, v in batch]
        answer = self._post("/api/v1/push", {"samples": samples})
        if answer.outcome is Outcome.OK:
            with self._lock:
                self._sent += len(batch)
        elif answer.outcome is Outcome.REFUSED:
            with self._lock:
                self._dropped += len(batch)
            message = "run %s: %d samples refused, dropped: %s"
            self._quiet(logging.WARNING, f"refused:{answer.status}", message, self.name, len(batch), answer.error)
        else:
            self._requeue(batch)
            return False
        return True

    def _requeue(self, batch: list[Buffered]) -> None:
        """Put a batch back at the head, in order, with its original timestamps.

        What was logged while it was in flight may have filled the buffer; then the batch (the
        oldest samples) is what gives way, so the buffer still holds the newest.
        """
        with self._lock:
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            lost = max(0, len(batch) - room)
            self._dropped += lost
            self._buffer.extendleft(reversed(batch[lost:]))

    def _mark_finished(self) -> bool:
        answer = self._post(f"/api/v1/runs/{self.id}/finish", {"status": self._final_status})
        if answer.outcome is Outcome.OK:
            self.status = str(answer.body.get("status", self._final_status))
        elif answer.outcome is Outcome.REFUSED:
            log.warning("run %s: the server refused to mark it %s: %s", self.name, self._final_status, answer.error)
        return answer.outcome is not Outcome.RETRY

    def _give_up(self) -> None:
        with self._lock:
            lost = len(self._buffer)
            self._dropped += lost
            self._buffer.clear()
        log.warning(
            "run %s: finish() gave up after %.0f s without the server; %d samples dropped, run not marked %s",
            self.name,
            FINISH_WAIT_FACTOR * self._timeout_s,
            lost,
            self._final_status,
        )


# --- process exit -----------------------------------------------------------------------

_live: set[Run] = set()
_live_lock = threading.Lock()
_hooks_installed = False


def _register(run: Run) -> None:
    with _live_lock:
        _live.add(run)
        _install_hooks()


def _unregister(run: Run) -> None:
    with _live_lock:
        _live.discard(run)


def _install_hooks() -> None:
    """At exit, finish the runs a script left open; on an uncaught exception, mark them failed.

    The previous ``sys.excepthook`` runs first (the traceback is not delayed by the network).
    """
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_finish_all, "finished")
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            previous(kind, exc, tb)
        finally:
            _finish_all("failed")

    sys.excepthook = excepthook


def _finish_all(status: str) -> None:
    with _live_lock:
        runs = list(_live)
    for run in runs:
        try:
            run.finish(status)
        except Exception:
            log.exception("run %s: finishing it at exit failed", run.name)


# --- torch --------------------------------------------------------------------------------


class TorchStats:
    """Per-step statistics worth logging: gradient norm, step time, throughput, peak GPU memory.

        stats = sdk.TorchStats(model)
        for step, (x, y) in enumerate(loader):
            with stats.step(len(x)) as values:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            run.log({"loss": loss.item(), **values}, step=step)

    ``grad_norm`` is the total L2 norm of the parameters' gradients as the step leaves them
    (after clipping, if the step clips). On a GPU the step is timed between two synchronisations,
    so ``step_time_s`` is the kernels' time and not just their launch.
    """

    def __init__(self, model: Any) -> None:
        import torch

        self._torch = torch
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._cuda = bool(torch.cuda.is_available())
        self._started: float | None = None
        self.values: dict[str, float] = {}

    def before_step(self) -> None:
        self._synchronize()
        self._started = time.perf_counter()

    def after_step(self, batch_size: int) -> dict[str, float]:
        """The step's statistics (also kept in ``values``)."""
        self._synchronize()
        started = self._started if self._started is not None else time.perf_counter()
        elapsed = max(time.perf_counter() - started, 1e-9)
        values = {"grad_norm": self.grad_norm(), "step_time_s": elapsed, "samples_per_s": batch_size / elapsed}
        if self._cuda:
            values["gpu_max_memory_allocated_bytes"] = float(self._torch.cuda.max_memory_allocated())
        self._started = None
        self.values = values
        return values

    @contextlib.contextmanager
    def step(self, batch_size: int) -> Iterator[dict[str, float]]:
        """Time the block; the yielded dict is filled with the statistics when it ends."""
        values: dict[str, float] = {}
        self.before_step()
        yield values
        values.update(self.after_step(batch_size))

    def grad_norm(self) -> float:
        """Total L2 norm of all gradients; 0.0 before the first backward pass."""
        torch = self._torch
        grads = [p.grad.detach() for p in self._params if p.grad is not None]
        if not grads:
            return 0.0
        device = grads[0].device
        norms = [self._norm(g).to(device=device, dtype=torch.float32) for g in grads]
        return float(torch.linalg.vector_norm(torch.stack(norms)))

    def _norm(self, grad: Any) -> Any:
        """One gradient's norm; half-precision ones are summed in float32, where they cannot overflow."""
        torch = self._torch
        if grad.is_floating_point() and grad.element_size() < 4:
            return torch.linalg.vector_norm(grad, dtype=torch.float32)
        return torch.linalg.vector_norm(grad)

    def _synchronize(self) -> None:
        if self._cuda and self._torch.cuda.is_initialized():
            self._torch.cuda.synchronize()
