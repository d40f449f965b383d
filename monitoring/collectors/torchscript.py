"""A probe of a model file on the worker's own disk: load it, run a fixed batch through it,
and record what serving it would feel like (latency, throughput, memory) and a cheap signal
of what it says (the entropy of its softmax output).

The target's ``url`` is the file's path: an absolute path or ``file:///abs/path``. Two
formats are read: ``torch.export`` programs (``.pt2``, preferred) and TorchScript files
(``torch.jit.save``). A model is loaded once per worker process and reloaded when its file
changes.

``torch`` is imported lazily, inside the probe: importing it costs about a second, and the
collectors package is imported by every process (the web app derives its kind choices from
it), most of which never run this probe.
"""

from __future__ import annotations

import math
import socket
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import psutil

from monitoring.collectors.base import (
    Collector,
    ConfigError,
    Scrape,
    Stopwatch,
    TargetSpec,
    config_from_dict,
    synthetic,
)
from monitoring.samples import Sample

if TYPE_CHECKING:
    import torch

PROBE = "torchscript"
DTYPES = ("float32", "float16", "bfloat16", "int64")
MAX_DIMS = 6
MAX_DIM = 4096
MAX_ELEMENTS = 50_000_000
MAX_SEED = 2**63 - 1
# int64 inputs are token or class ids: 0 and 1 are valid for any vocabulary, and an
# embedding lookup costs the same whatever the ids are.
INT_HIGH = 2
MAX_ERROR = 300
EXPORT = "torch.export program"
SCRIPT = "TorchScript model"


@dataclass(frozen=True)
class TorchConfig:
    """``input_shape`` is the batch the model is run on, batch dimension first; ``dtype`` is the
    input's type (the model must accept it); ``runs`` timed passes follow ``warmup`` untimed ones;
    ``seed`` fixes the input; ``device`` is cpu or cuda."""

    input_shape: list[int] = field(default_factory=lambda: [8, 1, 28, 28])
    dtype: str = "float32"
    runs: int = 20
    warmup: int = 2
    seed: int = 0
    device: str = "cpu"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TorchConfig:
        config = config_from_dict(cls, data)
        _check_shape(config.input_shape)
        if config.dtype not in DTYPES:
            raise ConfigError("dtype", f"{config.dtype!r} is not one of {', '.join(DTYPES)}")
        if not 1 <= config.runs <= 1000:
            raise ConfigError("runs", "must be between 1 and 1000")
        if not 0 <= config.warmup <= 100:
            raise ConfigError("warmup", "must be between 0 and 100")
        if not 0 <= config.seed <= MAX_SEED:
            raise ConfigError("seed", f"must be between 0 and {MAX_SEED}")
        if not _is_device(config.device):
            raise ConfigError("device", f"{config.device!r} is not cpu, cuda or cuda:N")
        return replace(config, input_shape=list(config.input_shape))  # a tuple (or a list) in, a list out


def _check_shape(shape: Any) -> None:
    if not isinstance(shape, list | tuple) or not shape:
        raise ConfigError("input_shape", "must be a list of dimensions, batch first, like [8, 1, 28, 28]")
    if len(shape) > MAX_DIMS:
        raise ConfigError("input_shape", f"{len(shape)} dimensions; at most {MAX_DIMS} are allowed")
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise ConfigError("input_shape", f"{dim!r} is not a whole number")
        if not 1 <= dim <= MAX_DIM:
            raise ConfigError("input_shape", f"each dimension must be between 1 and {MAX_DIM}, not {dim}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise ConfigError("input_shape", f"{math.prod(shape):,} elements; at most {MAX_ELEMENTS:,} are allowed")


def _is_device(device: str) -> bool:
    if device in ("cpu", "cuda"):
        return True
    return device.startswith("cuda:") and device[5:].isdigit()


class ProbeError(Exception):
    """Something about the model file or the model that the target's owner must fix."""


@dataclass(frozen=True)
class ModelFile:
    """A model file as found on disk: ``named`` as the target says, ``path`` resolved;
    ``signature`` changes whenever the file does (rewritten, replaced, or a symlink moved)."""

    named: str
    path: str
    size: int
    signature: tuple[str, int, int, int]


@dataclass(frozen=True)
class Loaded:
    signature: tuple[str, int, int, int]
    module: Callable[..., Any]
    fmt: str


# The per-process cache of loaded models, by (path as the target names it, device). A lock per key lets one
# thread load a model while polls of other models go on; the cache lock only guards the dicts.
_cache: dict[tuple[str, str], Loaded] = {}
_load_locks: dict[tuple[str, str], threading.Lock] = {}
_cache_lock = threading.Lock()


@dataclass
class Measures:
    """What one poll found; filled as it goes, so a failure keeps what came before."""

    file_bytes: int | None = None
    load_s: float | None = None
    batch: int = 0
    latencies: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    entropy: float | None = None
    error: str = ""


class TorchModelProbe(Collector):
    Config = TorchConfig

    @classmethod
    def check_url(cls, url: str) -> str | None:
        """A path on the worker's disk; whether the file is there is told by each poll, since
        the web server and the workers may not share a disk."""
        try:
            file_path(url)
        except ProbeError as exc:
            return str(exc)
        return None

    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        watch = Stopwatch()
        labels = {**spec.target_labels(instance=socket.gethostname()), "probe": PROBE}
        measures = Measures()
        try:
            _probe(spec, measures)
        except ProbeError as exc:
            measures.error = str(exc)
        except Exception as exc:  # torch raises many kinds; none of them may crash the worker
            measures.error = f"{type(exc).__name__}: {_short(exc)}"
        duration = watch.elapsed
        return Scrape(_samples(labels, ts_ms, measures, duration), not measures.error, measures.error, duration)


def _probe(spec: TargetSpec, measures: Measures) -> None:
    import torch

    config: TorchConfig = spec.config
    _check_device(torch, config.device)
    found = model_file(spec.url)
    measures.file_bytes = found.size
    loaded, measures.load_s = load_model(found, config.device)
    batch = make_input(torch, config)
    measures.batch = config.input_shape[0]
    output = _run(torch, loaded, batch, config, spec.timeout_s, measures)
    measures.entropy = output_entropy(torch, output)


def _check_device(torch: Any, device: str) -> None:
    if device == "cpu":
        return
    if not torch.cuda.is_available():
        raise ProbeError(f"device {device} was asked for, but CUDA is not available on {socket.gethostname()}")
    index = int(device[5:]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise ProbeError(f"device {device} was asked for, but this worker has {torch.cuda.device_count()} GPU(s)")


def model_file(url: str) -> ModelFile:
    """The model file a target names, checked to be a readable regular file."""
    path = file_path(url)
    try:
        resolved = Path(path).resolve()
        stat = resolved.stat()
    except FileNotFoundError:
        raise ProbeError(f"no model file at {path}") from None
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if S_ISDIR(stat.st_mode):
        raise ProbeError(f"{path} is a directory, not a model file")
    try:
        with resolved.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}") from None
    return ModelFile(path, str(resolved), stat.st_size, (str(resolved), stat.st_mtime_ns, stat.st_size, stat.st_ino))


def file_path(url: str) -> str:
    """The absolute path in a target's ``url``: a plain path or a ``file://`` URL on this host."""
    text = url.strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ProbeError(f"{url} names the host {parts.netloc!r}; the model file must be on the worker's disk")
        text = unquote(parts.path)
    if not text or not Path(text).is_absolute():
        raise ProbeError(f"{url!r} is not an absolute path or file:///abs/path URL of a model file")
    return text


def load_model(found: ModelFile, device: str) -> tuple[Loaded, float | None]:
    """The model in ``found``, from the cache when the file is unchanged; with the seconds the
    load took when it was (re)loaded now. A failed load leaves nothing cached."""
    key = (found.named, device)  # by the target's path, so a moved symlink replaces its old model
    with _cache_lock:
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        cached = _cache.get(key)
        if cached is not None and cached.signature == found.signature:
            return cached, None
        with _cache_lock:
            _cache.pop(key, None)  # let the old model go before the new one is loaded
        started = time.monotonic()
        module, fmt = read_model(found, device)
        loaded = Loaded(found.signature, module, fmt)
        with _cache_lock:
            _cache[key] = loaded
        return loaded, time.monotonic() - started


def read_model(found: ModelFile, device: str) -> tuple[Callable[..., Any], str]:
    """Load the file with the loader its contents (or failing that its name) point to, falling
    back to the other; ProbeError with the first loader's reason when neither reads it."""
    path = found.path
    if not zipfile.is_zipfile(path):
        raise ProbeError(
            f"{found.named} is not a {EXPORT} or {SCRIPT}: not a zip archive (truncated, or not a saved model)"
        )
    failures: list[str] = []
    for fmt in _loader_order(path, found.named):
        try:
            return (_load_export if fmt == EXPORT else _load_script)(path, device), fmt
        except Exception as exc:  # each loader fails in its own way on the other's files
            failures.append(f"{type(exc).__name__}: {_short(exc, last_line=False)}")
    raise ProbeError(f"{found.named} is not a {EXPORT} or {SCRIPT}: {failures[0]}")


def _loader_order(path: str, named: str) -> list[str]:
    """The archive's own marks first (an export archive has ``archive_format``, TorchScript has
    ``constants.pkl``), then the extension; the order spares a loader's noisy failure log."""
    order = [EXPORT, SCRIPT] if named.endswith(".pt2") else [SCRIPT, EXPORT]
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name.rsplit("/", 1)[-1] for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError):
        return order
    if "archive_format" in names:
        return [EXPORT, SCRIPT]
    if "constants.pkl" in names:
        return [SCRIPT, EXPORT]
    return order


def _load_export(path: str, device: str) -> Callable[..., Any]:
    import torch
    from torch.export.passes import move_to_device_pass

    program = torch.export.load(path)
    return move_to_device_pass(program, device).module()


def _load_script(path: str, device: str) -> Callable[..., Any]:
    import torch

    with warnings.catch_warnings():  # torch.jit is deprecated; its files are still accepted here
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        module = torch.jit.load(path, map_location=device)
    return module.eval()


def make_input(torch: Any, config: TorchConfig) -> torch.Tensor:
    """The same batch for the same seed on every worker: drawn on the CPU, then moved."""
    generator = torch.Generator().manual_seed(config.seed)
    if config.dtype == "int64":
        batch = torch.randint(0, INT_HIGH, config.input_shape, generator=generator, dtype=torch.int64)
    else:
        batch = torch.randn(config.input_shape, generator=generator).to(getattr(torch, config.dtype))
    return batch.to(config.device)


def _run(torch: Any, loaded: Loaded, batch: Any, config: TorchConfig, timeout_s: float, measures: Measures) -> Any:
    """Warm up, then time ``runs`` passes, stopping when the target's timeout has passed."""
    deadline = time.monotonic() + timeout_s
    cuda = config.device != "cpu"
    output: Any = None
    with torch.inference_mode():
        for _ in range(config.warmup):
            output = _pass(torch, loaded, batch, config, cuda)
            _check_deadline(deadline, timeout_s, 0, config.runs)
        memory = _Memory(torch, config.device)
        for done in range(config.runs):
            started = time.perf_counter()
            output = _pass(torch, loaded, batch, config, cuda)
            measures.latencies.append(time.perf_counter() - started)
            memory.sample()
            measures.peak_bytes = memory.peak()
            _check_deadline(deadline, timeout_s, done + 1, config.runs)
    return output


def _pass(torch: Any, loaded: Loaded, batch: Any, config: TorchConfig, cuda: bool) -> Any:
    try:
        output = loaded.module(batch)
        if cuda:
            torch.cuda.synchronize(config.device)
    except Exception as exc:  # a wrong shape or dtype surfaces as whatever the model's first layer raises
        shape = list(config.input_shape)
        raise ProbeError(
            f"the {loaded.fmt} failed on an input of shape {shape} {config.dtype}: {type(exc).__name__}: {_short(exc)}"
        ) from None
    return output


def _check_deadline(deadline: float, timeout_s: float, done: int, runs: int) -> None:
    if time.monotonic() > deadline:
        raise ProbeError(f"the probe ran past the target's timeout of {timeout_s:g}s after {done} of {runs} timed runs")


class _Memory:
    """Peak memory during the timed runs.

    On CUDA, the allocator's own peak (``max_memory_allocated`` after a reset): exact, though it
    counts every tensor on the device, the model's weights included. On the CPU, an approximation:
    the growth of the process's resident set over its value before the first timed pass, sampled
    after each pass. It misses peaks inside a pass, counts other threads' allocations, and reads
    near zero once the allocator keeps memory from earlier passes for reuse.
    """

    def __init__(self, torch: Any, device: str) -> None:
        self.torch = torch
        self.device = device
        if device == "cpu":
            self.process = psutil.Process()
            self.baseline = self.process.memory_info().rss
            self.highest = self.baseline
        else:
            torch.cuda.reset_peak_memory_stats(device)

    def sample(self) -> None:
        if self.device == "cpu":
            self.highest = max(self.highest, self.process.memory_info().rss)

    def peak(self) -> int:
        if self.device == "cpu":
            return self.highest - self.baseline
        return int(self.torch.cuda.max_memory_allocated(self.device))


def output_entropy(torch: Any, output: Any) -> float | None:
    """Mean over the batch of H = -sum p log p of the softmax over the last dimension, computed
    from ``log_softmax`` for stability; None when the output is not a float tensor of classes."""
    tensor = first_tensor(torch, output)
    if tensor is None or not tensor.is_floating_point() or tensor.dim() == 0 or tensor.shape[-1] < 2:
        return None
    if tensor.numel() == 0:
        return None
    logp = torch.log_softmax(tensor.double(), dim=-1)  # float64: exact enough for 10⁵ classes
    return float(-(logp.exp() * logp).sum(dim=-1).mean())


def first_tensor(torch: Any, output: Any) -> Any:
    """The output itself if a tensor, else the first tensor in a tuple, list or dict (in order)."""
    if isinstance(output, torch.Tensor):
        return output
    items = output.values() if isinstance(output, dict) else output if isinstance(output, list | tuple) else ()
    for item in items:
        found = first_tensor(torch, item)
        if found is not None:
            return found
    return None


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks, as numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _samples(labels: dict[str, str], ts_ms: int, measures: Measures, duration: float) -> list[Sample]:
    samples = [
        synthetic("probe_success", labels, ts_ms, 0 if measures.error else 1),
        synthetic("probe_duration_seconds", labels, ts_ms, duration),
    ]
    if measures.file_bytes is not None:
        samples.append(synthetic("model_file_bytes", labels, ts_ms, measures.file_bytes))
    if measures.load_s is not None:
        samples.append(synthetic("model_load_seconds", labels, ts_ms, measures.load_s))
    if measures.latencies:
        samples += _latency_samples(labels, ts_ms, measures)
    if measures.peak_bytes is not None:
        samples.append(synthetic("model_peak_memory_bytes", labels, ts_ms, measures.peak_bytes))
    if measures.entropy is not None:
        samples.append(synthetic("model_output_entropy_nats", labels, ts_ms, measures.entropy))
    return samples


def _latency_samples(labels: dict[str, str], ts_ms: int, measures: Measures) -> list[Sample]:
    timed = max(sum(measures.latencies), 1e-12)
    throughput = measures.batch * len(measures.latencies) / timed
    return [
        synthetic("model_latency_seconds", {**labels, "quantile": "0.5"}, ts_ms, quantile(measures.latencies, 0.5)),
        synthetic("model_latency_seconds", {**labels, "quantile": "0.95"}, ts_ms, quantile(measures.latencies, 0.95)),
        synthetic("model_throughput_samples_per_second", labels, ts_ms, throughput),
    ]


def _short(exc: BaseException, last_line: bool = True) -> str:
    """An exception's message cut to one line: TorchScript puts the real error on the last line
    of a long traceback, loaders put it on the first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[-1] if last_line else lines[0]
    for prefix in ("RuntimeError: ", "AssertionError: ", "ValueError: "):
        line = line.removeprefix(prefix)
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
