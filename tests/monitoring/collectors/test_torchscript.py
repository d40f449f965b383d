"""The model-file probe against small models saved in the test, in both formats."""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from monitoring.collectors import MODEL_COLLECTORS
from monitoring.collectors import torchscript as probe
from monitoring.collectors.base import ConfigError, Scrape, TargetSpec
from monitoring.collectors.torchscript import TorchConfig, TorchModelProbe

TS = 1_800_000_000_000
MNIST = [8, 1, 28, 28]
NOT_A_MODEL = "is not a torch.export program or TorchScript model: "


class SmallCNN(torch.nn.Module):
    """Two convolutions and two linear layers over 28x28 images, ten classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3)
        self.conv2 = torch.nn.Conv2d(4, 8, 3, stride=2)
        self.fc1 = torch.nn.Linear(8 * 12 * 12, 32)
        self.fc2 = torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class Pair(torch.nn.Module):
    """Returns a tuple, as many models do: the probe reads the first tensor."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.inner(x)
        return logits, logits.argmax(dim=-1)


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return SmallCNN().eval()


def linear(classes: int = 10, scale: float = 0.0) -> torch.nn.Module:
    """A 4-in linear layer; scale 0 gives all-zero logits, so a uniform softmax."""
    layer = torch.nn.Linear(4, classes)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(4 * classes, dtype=torch.float32).reshape(classes, 4) * scale)
        layer.bias.zero_()
    return layer.eval()


def save(model: torch.nn.Module, path: Path, shape: list[int]) -> Path:
    """Save in the format the name says: .pt2 with torch.export, anything else with torch.jit."""
    example = torch.randn(shape)
    if path.suffix == ".pt2":
        torch.export.save(torch.export.export(model, (example,)), path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(model), path)
    return path


def replace_file(path: Path, writer: Callable[[Path], object]) -> None:
    """Replace a file as a deployment would (write aside, rename), with a later mtime."""
    staged = path.with_name("staged" + path.suffix)
    writer(staged)
    later = path.stat().st_mtime_ns + 1_000_000_000 if path.exists() else None
    staged.replace(path)
    if later is not None:
        os.utime(path, ns=(later, later))


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cnn")
    return {suffix: save(small_cnn(), folder / f"cnn{suffix}", MNIST) for suffix in (".pt2", ".pt")}


def spec(url: str | Path, timeout_s: float = 30.0, **config: object) -> TargetSpec:
    return TargetSpec(
        uid="u",
        name="mnist",
        kind="torchscript",
        role="model",
        url=str(url),
        timeout_s=timeout_s,
        config=TorchConfig.from_dict({"runs": 3, "warmup": 1, **config}),
    )


def poll(url: str | Path, **config: object) -> Scrape:
    return TorchModelProbe().collect(spec(url, **config), TS)


def values(scrape: Scrape) -> dict[str, float]:
    return {s.name + dict(s.labels).get("quantile", ""): s.value for s in scrape.samples}


def test_the_kind_is_registered() -> None:
    assert MODEL_COLLECTORS["torchscript"] is TorchModelProbe
    assert TorchModelProbe.Config is TorchConfig


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
def test_both_formats_load_and_give_every_series(cnn_files: dict[str, Path], suffix: str) -> None:
    scrape = poll(cnn_files[suffix], runs=10)
    got = values(scrape)
    assert scrape.up, scrape.error
    assert scrape.error == ""
    assert set(got) == {
        "probe_success",
        "probe_duration_seconds",
        "model_file_bytes",
        "model_load_seconds",
        "model_latency_seconds0.5",
        "model_latency_seconds0.95",
        "model_throughput_samples_per_second",
        "model_peak_memory_bytes",
        "model_output_entropy_nats",
    }
    assert got["probe_success"] == 1
    assert got["model_latency_seconds0.5"] > 0
    assert got["model_latency_seconds0.95"] >= got["model_latency_seconds0.5"]
    assert got["model_throughput_samples_per_second"] > 0
    assert got["model_peak_memory_bytes"] >= 0
    assert 0 < got["model_output_entropy_nats"] < math.log(10)
    assert got["model_file_bytes"] == cnn_files[suffix].stat().st_size
    assert got["probe_duration_seconds"] >= got["model_load_seconds"] > 0
    assert scrape.duration_s == got["probe_duration_seconds"]


def test_throughput_is_the_batch_over_the_mean_pass(cnn_files: dict[str, Path]) -> None:
    got = values(poll(cnn_files[".pt2"], runs=5))
    p50 = got["model_latency_seconds0.5"]
    # batch 8 over a mean pass that lies between the fastest and the slowest
    assert 8 / (got["model_latency_seconds0.95"] * 1.5) < got["model_throughput_samples_per_second"]
    assert got["model_throughput_samples_per_second"] < 8 / (p50 / 10)


def test_both_formats_agree_on_the_entropy(cnn_files: dict[str, Path]) -> None:
    exported, scripted = (values(poll(cnn_files[s])) for s in (".pt2", ".pt"))
    assert exported["model_output_entropy_nats"] == pytest.approx(scripted["model_output_entropy_nats"], rel=1e-5)


def test_labels_name_the_model_the_worker_and_the_probe(cnn_files: dict[str, Path]) -> None:
    scrape = poll(cnn_files[".pt2"])
    labels = dict(scrape.samples[0].labels)
    assert labels == {"job": "mnist", "instance": socket.gethostname(), "model": "mnist", "probe": "torchscript"}


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_a_uniform_softmax_has_entropy_log_n(tmp_path: Path, suffix: str, classes: int) -> None:
    path = save(linear(classes), tmp_path / f"zero{suffix}", [8, 4])
    got = values(poll(path, input_shape=[8, 4]))
    assert got["model_output_entropy_nats"] == pytest.approx(math.log(classes), abs=1e-9)


def test_a_tuple_output_is_read_by_its_first_tensor(tmp_path: Path) -> None:
    path = save(Pair(linear(10)), tmp_path / "pair.pt2", [8, 4])
    scrape = poll(path, input_shape=[8, 4])
    assert scrape.up, scrape.error
    assert values(scrape)["model_output_entropy_nats"] == pytest.approx(math.log(10), abs=1e-9)


def test_the_entropy_matches_a_hand_computed_softmax() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]], dtype=torch.float64)  # p = (1/4, 3/4) and (1/2, 1/2)
    first = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert probe.output_entropy(torch, logits) == pytest.approx((first + math.log(2)) / 2, abs=1e-9)
    assert probe.output_entropy(torch, {"logits": logits, "other": torch.zeros(2, 5)}) == pytest.approx(
        (first + math.log(2)) / 2, abs=1e-9
    )


@pytest.mark.parametrize(
    "output",
    [torch.zeros(8, 1), torch.zeros(8, 10, dtype=torch.int64), torch.tensor(1.0), torch.zeros(0, 10), "text", None],
)
def test_outputs_that_are_not_class_scores_have_no_entropy(output: object) -> None:
    assert probe.output_entropy(torch, output) is None


def test_a_model_without_class_scores_gives_no_entropy_series(tmp_path: Path) -> None:
    path = save(linear(1), tmp_path / "scalar.pt2", [8, 4])
    scrape = poll(path, input_shape=[8, 4])
    assert scrape.up, scrape.error
    assert "model_output_entropy_nats" not in values(scrape)


def test_the_model_is_loaded_once_then_again_when_the_file_changes(tmp_path: Path) -> None:
    path = save(linear(10), tmp_path / "model.pt2", [8, 4])
    first, second = poll(path, input_shape=[8, 4]), poll(path, input_shape=[8, 4])
    assert "model_load_seconds" in values(first)
    assert "model_load_seconds" not in values(second)
    assert values(second)["model_output_entropy_nats"] == pytest.approx(math.log(10), abs=1e-9)

    replace_file(path, lambda staged: save(linear(10, scale=1.0), staged, [8, 4]))
    third = poll(path, input_shape=[8, 4])
    assert third.up, third.error
    assert "model_load_seconds" in values(third)
    assert values(third)["model_output_entropy_nats"] < math.log(10) - 0.5


def test_concurrent_polls_of_one_file_load_it_once(tmp_path: Path) -> None:
    path = save(linear(10), tmp_path / "shared.pt2", [8, 4])
    with ThreadPoolExecutor(max_workers=4) as pool:
        scrapes = list(pool.map(lambda _: poll(path, input_shape=[8, 4]), range(4)))
    assert all(scrape.up for scrape in scrapes)
    assert sum("model_load_seconds" in values(scrape) for scrape in scrapes) == 1


def test_a_file_rewritten_in_place_is_reloaded(tmp_path: Path) -> None:
    path = save(linear(10), tmp_path / "model.pt", [8, 4])
    poll(path, input_shape=[8, 4])
    stat = path.stat()
    save(linear(10, scale=1.0), path, [8, 4])
    os.utime(path, ns=(stat.st_mtime_ns + 10**9, stat.st_mtime_ns + 10**9))
    got = values(poll(path, input_shape=[8, 4]))
    assert "model_load_seconds" in got
    assert got["model_output_entropy_nats"] < math.log(10) - 0.5


def test_a_file_url_names_the_file(cnn_files: dict[str, Path]) -> None:
    scrape = poll(cnn_files[".pt2"].as_uri())
    assert scrape.up, scrape.error


def test_loading_a_torchscript_file_warns_of_nothing(tmp_path: Path) -> None:
    path = save(linear(10), tmp_path / "quiet.pt", [8, 4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scrape = poll(path, input_shape=[8, 4])
    assert scrape.up, scrape.error
    assert [str(w.message) for w in caught if "jit" in str(w.message)] == []


def failed(scrape: Scrape) -> str:
    assert not scrape.up
    assert values(scrape)["probe_success"] == 0
    assert "probe_duration_seconds" in values(scrape)
    return scrape.error


def test_a_missing_file_is_a_clear_failure(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.pt2"
    assert failed(poll(missing)) == f"no model file at {missing}"
    assert failed(poll(missing.as_uri())) == f"no model file at {missing}"


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
def test_random_bytes_are_not_a_model(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(os.urandom(4096))
    error = failed(poll(path))
    assert error.startswith(f"{path} {NOT_A_MODEL}")
    assert "model_file_bytes" in values(poll(path))


def test_a_truncated_export_is_not_a_model(tmp_path: Path, cnn_files: dict[str, Path]) -> None:
    path = tmp_path / "cut.pt2"
    path.write_bytes(cnn_files[".pt2"].read_bytes()[:3000])
    assert failed(poll(path)).startswith(f"{path} {NOT_A_MODEL}")


def test_a_zip_that_is_no_model_is_not_a_model(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "other.pt2"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert failed(poll(path)).startswith(f"{path} {NOT_A_MODEL}")


def test_a_fixed_file_loads_on_the_next_poll(tmp_path: Path, cnn_files: dict[str, Path]) -> None:
    path = tmp_path / "model.pt2"
    path.write_bytes(b"not yet")
    assert failed(poll(path)).startswith(f"{path} {NOT_A_MODEL}")
    replace_file(path, lambda staged: staged.write_bytes(cnn_files[".pt2"].read_bytes()))
    scrape = poll(path)
    assert scrape.up, scrape.error
    assert "model_load_seconds" in values(scrape)


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
def test_a_wrong_input_shape_is_a_clear_failure(cnn_files: dict[str, Path], suffix: str) -> None:
    error = failed(poll(cnn_files[suffix], input_shape=[8, 3, 28, 28]))
    assert error.startswith("the ")
    assert "failed on an input of shape [8, 3, 28, 28] float32: " in error
    assert "\n" not in error
    assert len(error) < 500


def test_a_wrong_input_dtype_is_a_clear_failure(cnn_files: dict[str, Path]) -> None:
    error = failed(poll(cnn_files[".pt"], dtype="int64"))
    assert "failed on an input of shape [8, 1, 28, 28] int64: " in error


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("model.pt2", "'model.pt2' is not an absolute path or file:///abs/path URL of a model file"),
        ("", "'' is not an absolute path or file:///abs/path URL of a model file"),
        ("file://gpu-7/models/m.pt2", "file://gpu-7/models/m.pt2 names the host 'gpu-7'"),
    ],
)
def test_a_url_that_is_no_local_path_is_refused(url: str, expected: str) -> None:
    assert failed(poll(url)).startswith(expected)


def test_a_directory_is_not_a_model_file(tmp_path: Path) -> None:
    assert failed(poll(tmp_path)) == f"{tmp_path} is a directory, not a model file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_clear_failure(tmp_path: Path, cnn_files: dict[str, Path]) -> None:
    path = tmp_path / "locked.pt2"
    path.write_bytes(cnn_files[".pt2"].read_bytes())
    path.chmod(0)
    assert failed(poll(path)).startswith(f"cannot read {path}: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_failure(cnn_files: dict[str, Path]) -> None:
    error = failed(poll(cnn_files[".pt2"], device="cuda"))
    assert error == f"device cuda was asked for, but CUDA is not available on {socket.gethostname()}"


def test_a_poll_past_the_timeout_stops_and_fails(cnn_files: dict[str, Path]) -> None:
    scrape = TorchModelProbe().collect(spec(cnn_files[".pt2"], timeout_s=0.0, runs=1000, warmup=0), TS)
    assert failed(scrape) == "the probe ran past the target's timeout of 0s after 1 of 1000 timed runs"
    assert values(scrape)["model_latency_seconds0.5"] > 0


def test_collect_never_raises(cnn_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(probe, "make_input", broken)
    assert failed(poll(cnn_files[".pt2"])) == "KeyError: 'surprise'"


def test_a_failing_loader_leaves_nothing_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(linear(10), tmp_path / "model.pt2", [8, 4])
    real = probe._load_export

    def flaky(*args: object) -> object:
        raise MemoryError("out of memory")

    monkeypatch.setattr(probe, "_load_export", flaky)
    monkeypatch.setattr(probe, "_load_script", flaky)
    assert failed(poll(path, input_shape=[8, 4])) == f"{path} {NOT_A_MODEL}MemoryError: out of memory"
    monkeypatch.setattr(probe, "_load_export", real)
    assert poll(path, input_shape=[8, 4]).up


def test_the_input_is_the_same_for_the_same_seed() -> None:
    config = TorchConfig.from_dict({"input_shape": [4, 3], "seed": 7})
    assert torch.equal(probe.make_input(torch, config), probe.make_input(torch, config))
    other = TorchConfig.from_dict({"input_shape": [4, 3], "seed": 8})
    assert not torch.equal(probe.make_input(torch, config), probe.make_input(torch, other))
    ids = probe.make_input(torch, TorchConfig.from_dict({"input_shape": [64], "dtype": "int64"}))
    assert ids.dtype == torch.int64
    assert set(ids.tolist()) <= {0, 1}
    assert probe.make_input(torch, TorchConfig.from_dict({"dtype": "bfloat16"})).dtype == torch.bfloat16


def test_quantiles_interpolate() -> None:
    assert probe.quantile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.5
    assert probe.quantile([1.0] * 19 + [21.0], 0.95) == pytest.approx(2.0)
    assert probe.quantile([5.0], 0.95) == 5.0


def test_the_defaults() -> None:
    assert TorchConfig.from_dict({}) == TorchConfig(
        input_shape=[8, 1, 28, 28], dtype="float32", runs=20, warmup=2, seed=0, device="cpu"
    )
    assert TorchConfig.from_dict({"input_shape": (2, 4), "runs": "5", "device": "cuda:1"}).input_shape == [2, 4]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"shape": [1]}, "shape"),
        ({"input_shape": []}, "input_shape"),
        ({"input_shape": "8,1,28,28"}, "input_shape"),
        ({"input_shape": [8, 0]}, "input_shape"),
        ({"input_shape": [8, 4097]}, "input_shape"),
        ({"input_shape": [8, 2.5]}, "input_shape"),
        ({"input_shape": [8, True]}, "input_shape"),
        ({"input_shape": [1] * 7}, "input_shape"),
        ({"input_shape": [4096, 4096, 4]}, "input_shape"),
        ({"dtype": "float64"}, "dtype"),
        ({"runs": 0}, "runs"),
        ({"runs": 1001}, "runs"),
        ({"runs": "many"}, "runs"),
        ({"warmup": -1}, "warmup"),
        ({"warmup": 101}, "warmup"),
        ({"seed": -1}, "seed"),
        ({"device": "tpu"}, "device"),
        ({"device": "cuda:x"}, "device"),
    ],
)
def test_config_errors_name_their_field(config: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TorchConfig.from_dict(config)
    assert caught.value.field == field
