"""Model-server adapters: each fixture scrape → the normalised ``opsboard_llm_*`` series, by hand.

Fixtures are exposition text in each server's own format (tests/fixtures/exposition/*.prom);
expected values are computed here from the numbers in those files.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring import llm
from monitoring.exposition import parse
from monitoring.llm import normalised as n
from monitoring.samples import Sample, make_labels

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exposition"
TS_MS = 1_700_000_000_000
VLLM_MODEL = {"engine": "0", "model_name": "meta-llama/Llama-3.1-8B-Instruct"}
TRT = {"model": "tensorrt_llm", "version": "1"}
PRE = {"model": "preprocessing", "version": "1"}
LLAMA = {"hostname": "ts-0", "model_name": "llama2-7b-chat", "model_version": "1.0"}
MISTRAL = {"hostname": "ts-0", "model_name": "mistral-7b", "model_version": "default"}

NODE_EXPORTER = """\
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 123456.78
node_cpu_seconds_total{cpu="0",mode="user"} 2345.6
# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 1.6e+10
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
"""


def scrape(text: str) -> list[Sample]:
    return parse(text, default_ts_ms=TS_MS)


def fixture(family: str) -> list[Sample]:
    return scrape((FIXTURES / f"{family}.prom").read_text())


def series(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, labels): value} of samples; fails on a duplicate series."""
    out = {}
    for s in samples:
        key = (s.name, s.labels)
        assert key not in out, f"duplicate series {key}"
        out[key] = s.value
    return out


def value(samples: list[Sample], name: str, labels: dict[str, str] | None = None) -> float:
    return series(samples)[(name, make_labels(labels))]


def names(samples: list[Sample]) -> set[str]:
    return {s.name for s in samples}


def buckets(samples: list[Sample], name: str, labels: dict[str, str] | None = None) -> dict[str, float]:
    """{le: count} of a normalised histogram's buckets with ``labels`` (le aside)."""
    wanted = make_labels(labels)
    out = {}
    for s in samples:
        rest = tuple(pair for pair in s.labels if pair[0] != "le")
        if s.name == f"{name}_bucket" and rest == wanted:
            out[dict(s.labels)["le"]] = s.value
    return out


def histogram_names(metric: str, with_buckets: bool = True) -> set[str]:
    suffixes = ("_bucket", "_sum", "_count") if with_buckets else ("_sum", "_count")
    return {metric + suffix for suffix in suffixes}


# Detection


@pytest.mark.parametrize("family", ["vllm", "tgi", "triton", "torchserve"])
def test_each_fixture_is_detected_as_its_own_family(family: str) -> None:
    assert llm.detect_family(fixture(family)) == family


def test_families_map_each_name_to_its_adapter() -> None:
    assert list(llm.FAMILIES) == ["vllm", "tgi", "triton", "torchserve", "http"]
    assert all(adapter.family == family for family, adapter in llm.FAMILIES.items())


def test_node_exporter_scrape_is_no_family_and_normalises_to_nothing() -> None:
    samples = scrape(NODE_EXPORTER)
    assert llm.detect_family(samples) is None
    assert llm.normalise(samples) == []


def test_empty_scrape_is_no_family_and_normalises_to_nothing() -> None:
    assert llm.detect_family([]) is None
    assert llm.normalise([]) == []


def test_triton_serving_vllm_backend_is_detected_as_vllm_for_its_richer_metrics() -> None:
    samples = fixture("triton") + scrape('vllm:num_requests_running{model="llama",version="1"} 3\n')
    assert llm.detect_family(samples) == "vllm"


def test_torchserve_idle_server_is_recognised_by_its_worker_gauges() -> None:
    samples = scrape('WorkerThreadTime{Level="Host",Hostname="ts-0",} 1.0\n')
    assert llm.detect_family(samples) == "torchserve"
    assert llm.normalise(samples) == []


def test_a_metric_merely_starting_with_ts_is_not_torchserve() -> None:
    assert llm.detect_family(scrape("ts_offset_seconds 4\n")) is None


def test_explicit_family_is_used_without_detection() -> None:
    samples = fixture("tgi")
    assert llm.normalise(samples, "tgi") == llm.normalise(samples)
    assert llm.normalise(samples, "vllm") == []


def test_unknown_family_name_normalises_to_nothing() -> None:
    assert llm.normalise(fixture("vllm"), "sglang") == []


# The normalised set


def test_normalised_set_names_every_metric_with_its_type() -> None:
    assert {name: metric.type for name, metric in llm.NORMALISED.items()} == {
        "opsboard_llm_time_to_first_token_seconds": "histogram",
        "opsboard_llm_time_per_output_token_seconds": "histogram",
        "opsboard_llm_e2e_request_latency_seconds": "histogram",
        "opsboard_llm_queue_time_seconds": "histogram",
        "opsboard_llm_requests_waiting": "gauge",
        "opsboard_llm_requests_running": "gauge",
        "opsboard_llm_kv_cache_usage_ratio": "gauge",
        "opsboard_llm_prompt_tokens_total": "counter",
        "opsboard_llm_generation_tokens_total": "counter",
        "opsboard_llm_requests_success_total": "counter",
        "opsboard_llm_requests_failure_total": "counter",
    }
    assert all(metric.help for metric in llm.NORMALISED.values())


@pytest.mark.parametrize("family", ["vllm", "tgi", "triton", "torchserve"])
def test_every_normalised_sample_belongs_to_a_normalised_metric(family: str) -> None:
    allowed = set()
    for name, metric in llm.NORMALISED.items():
        allowed |= histogram_names(name) if metric.type == "histogram" else {name}
    produced = llm.normalise(fixture(family))
    assert produced
    assert names(produced) <= allowed
    series(produced)  # no series twice
    assert {s.ts_ms for s in produced} == {TS_MS}


def test_normalise_returns_only_new_samples_and_leaves_the_scrape_alone() -> None:
    samples = fixture("vllm")
    before = list(samples)
    produced = llm.normalise(samples)
    assert samples == before
    assert all(s.name.startswith("opsboard_llm_") for s in produced)


# vLLM


def test_vllm_gauges_and_counters_keep_model_name_and_engine_labels() -> None:
    out = llm.normalise(fixture("vllm"))
    assert value(out, n.WAITING, VLLM_MODEL) == 2.0
    assert value(out, n.RUNNING, VLLM_MODEL) == 4.0
    assert value(out, n.PROMPT_TOKENS, VLLM_MODEL) == 152340.0
    assert value(out, n.GENERATION_TOKENS, VLLM_MODEL) == 48712.0


def test_vllm_success_total_is_summed_over_finished_reasons() -> None:
    out = llm.normalise(fixture("vllm"))
    assert value(out, n.SUCCESS, VLLM_MODEL) == 131.0 + 17.0 + 2.0


def test_vllm_without_an_error_finished_reason_exports_no_failures() -> None:
    assert n.FAILURE not in names(llm.normalise(fixture("vllm")))


def test_vllm_old_and_new_kv_cache_names_exported_together_give_one_ratio() -> None:
    out = llm.normalise(fixture("vllm"))
    assert [s.value for s in out if s.name == n.KV_CACHE] == [0.4375]


@pytest.mark.parametrize("source", ["vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"])
def test_vllm_either_kv_cache_name_alone_maps_to_the_ratio(source: str) -> None:
    out = llm.normalise(scrape(f'{source}{{engine="0",model_name="m"}} 0.25\n'))
    assert series(out) == {(n.KV_CACHE, make_labels({"engine": "0", "model_name": "m"})): 0.25}


def test_vllm_new_kv_cache_name_wins_when_both_disagree() -> None:
    out = llm.normalise(
        scrape('vllm:gpu_cache_usage_perc{model_name="m"} 0.5\nvllm:kv_cache_usage_perc{model_name="m"} 0.75\n')
    )
    assert value(out, n.KV_CACHE, {"model_name": "m"}) == 0.75


def test_vllm_time_to_first_token_histogram_keeps_vllms_buckets() -> None:
    out = llm.normalise(fixture("vllm"))
    got = buckets(out, n.TTFT, VLLM_MODEL)
    assert len(got) == 23
    assert got["0.02"] == 3.0
    assert got["0.1"] == 96.0
    assert got["2.5"] == 150.0
    assert got["+Inf"] == 150.0
    assert value(out, f"{n.TTFT}_sum", VLLM_MODEL) == 18.25
    assert value(out, f"{n.TTFT}_count", VLLM_MODEL) == 150.0


def test_vllm_e2e_and_queue_histograms_map_with_sum_and_count() -> None:
    out = llm.normalise(fixture("vllm"))
    assert value(out, f"{n.E2E}_sum", VLLM_MODEL) == 1602.4
    assert value(out, f"{n.E2E}_count", VLLM_MODEL) == 150.0
    assert buckets(out, n.E2E, VLLM_MODEL)["10.0"] == 88.0
    assert value(out, f"{n.QUEUE_TIME}_sum", VLLM_MODEL) == 3.75
    assert buckets(out, n.QUEUE_TIME, VLLM_MODEL)["0.3"] == 141.0


def test_vllm_deprecated_time_per_output_token_name_maps_to_tpot() -> None:
    out = llm.normalise(fixture("vllm"))
    assert value(out, f"{n.TPOT}_sum", VLLM_MODEL) == 1456.86
    assert value(out, f"{n.TPOT}_count", VLLM_MODEL) == 48562.0
    assert buckets(out, n.TPOT, VLLM_MODEL)["0.025"] == 17893.0


VLLM_BOTH_TPOT_NAMES = """\
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{le="0.05",model_name="m"} 1.0
vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="m"} 2.0
vllm:time_per_output_token_seconds_sum{model_name="m"} 9.0
vllm:time_per_output_token_seconds_count{model_name="m"} 2.0
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{le="0.05",model_name="m"} 3.0
vllm:inter_token_latency_seconds_bucket{le="+Inf",model_name="m"} 4.0
vllm:inter_token_latency_seconds_sum{model_name="m"} 0.12
vllm:inter_token_latency_seconds_count{model_name="m"} 4.0
"""


def test_vllm_inter_token_latency_wins_over_its_deprecated_name_without_mixing_buckets() -> None:
    out = llm.normalise(scrape(VLLM_BOTH_TPOT_NAMES))
    assert series(out) == {
        (f"{n.TPOT}_bucket", make_labels({"le": "0.05", "model_name": "m"})): 3.0,
        (f"{n.TPOT}_bucket", make_labels({"le": "+Inf", "model_name": "m"})): 4.0,
        (f"{n.TPOT}_sum", make_labels({"model_name": "m"})): 0.12,
        (f"{n.TPOT}_count", make_labels({"model_name": "m"})): 4.0,
    }


VLLM_NEWER_REASONS = """\
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 40.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 5.0
vllm:request_success_total{engine="0",finished_reason="repetition",model_name="m"} 1.0
vllm:request_success_total{engine="0",finished_reason="error",model_name="m"} 3.0
vllm:request_success_total{engine="1",finished_reason="stop",model_name="m"} 7.0
vllm:request_success_total{engine="1",finished_reason="error",model_name="m"} 0.0
"""


def test_vllm_error_finished_reason_is_a_failure_and_sums_stay_per_engine() -> None:
    out = llm.normalise(scrape(VLLM_NEWER_REASONS))
    assert value(out, n.SUCCESS, {"engine": "0", "model_name": "m"}) == 40.0 + 5.0 + 1.0
    assert value(out, n.SUCCESS, {"engine": "1", "model_name": "m"}) == 7.0
    assert value(out, n.FAILURE, {"engine": "0", "model_name": "m"}) == 3.0
    assert value(out, n.FAILURE, {"engine": "1", "model_name": "m"}) == 0.0


def test_vllm_counters_without_total_suffix_are_found_too() -> None:
    samples = [Sample("vllm:prompt_tokens", make_labels({"model_name": "m"}), TS_MS, 12.0)]
    assert value(llm.normalise(samples), n.PROMPT_TOKENS, {"model_name": "m"}) == 12.0


# TGI


def test_tgi_exports_no_time_to_first_token_and_no_kv_cache() -> None:
    produced = names(llm.normalise(fixture("tgi")))
    assert not any(name.startswith(n.TTFT) for name in produced)
    assert n.KV_CACHE not in produced


def test_tgi_request_histograms_keep_tgis_buckets_in_seconds() -> None:
    out = llm.normalise(fixture("tgi"))
    e2e = buckets(out, n.E2E)
    assert len(e2e) == 36
    assert e2e["1.122274146401882"] == 3.0
    assert e2e["+Inf"] == 96.0
    assert value(out, f"{n.E2E}_sum") == 412.8
    assert value(out, f"{n.E2E}_count") == 96.0
    assert value(out, f"{n.QUEUE_TIME}_sum") == 37.2
    assert value(out, f"{n.QUEUE_TIME}_count") == 96.0
    assert buckets(out, n.QUEUE_TIME)["0.0129746337890625"] == 40.0


def test_tgi_mean_time_per_token_maps_to_time_per_output_token() -> None:
    out = llm.normalise(fixture("tgi"))
    assert value(out, f"{n.TPOT}_sum") == 2.304
    assert value(out, f"{n.TPOT}_count") == 96.0
    assert buckets(out, n.TPOT)["0.029192926025390625"] == 80.0


def test_tgi_queue_size_is_waiting_and_batch_size_is_running() -> None:
    out = llm.normalise(fixture("tgi"))
    assert value(out, n.WAITING) == 5.0
    assert value(out, n.RUNNING) == 12.0


def test_tgi_token_counters_are_the_sums_of_its_token_histograms() -> None:
    out = llm.normalise(fixture("tgi"))
    assert value(out, n.PROMPT_TOKENS) == 48213.0
    assert value(out, n.GENERATION_TOKENS) == 23040.0


def test_tgi_failures_are_summed_over_err_and_successes_copied() -> None:
    out = llm.normalise(fixture("tgi"))
    assert value(out, n.SUCCESS) == 96.0
    assert value(out, n.FAILURE) == 3.0 + 1.0


def test_tgi_batch_level_timings_are_not_mapped() -> None:
    out = llm.normalise(fixture("tgi"))
    assert not any("method" in dict(s.labels) for s in out)


# Triton


def test_triton_request_duration_becomes_e2e_sum_in_seconds_over_successes() -> None:
    out = llm.normalise(fixture("triton"))
    assert value(out, f"{n.E2E}_sum", TRT) == 186543210 / 1e6
    assert value(out, f"{n.E2E}_sum", TRT) == 186.54321
    assert value(out, f"{n.E2E}_count", TRT) == 240.0  # successes only: failures add no duration
    assert value(out, f"{n.E2E}_sum", PRE) == 2214000 / 1e6
    assert value(out, f"{n.E2E}_count", PRE) == 246.0
    assert f"{n.E2E}_bucket" not in names(out)


def test_triton_queue_duration_becomes_queue_time_sum_in_seconds() -> None:
    out = llm.normalise(fixture("triton"))
    assert value(out, f"{n.QUEUE_TIME}_sum", TRT) == 1250400 / 1e6
    assert value(out, f"{n.QUEUE_TIME}_sum", TRT) == 1.2504
    assert value(out, f"{n.QUEUE_TIME}_count", TRT) == 240.0
    assert value(out, f"{n.QUEUE_TIME}_sum", PRE) == 0.0984


def test_triton_first_response_histogram_converts_milliseconds_to_seconds() -> None:
    out = llm.normalise(fixture("triton"))
    assert buckets(out, n.TTFT, TRT) == {"0.1": 12.0, "0.5": 170.0, "2.0": 236.0, "5.0": 240.0, "+Inf": 240.0}
    assert value(out, f"{n.TTFT}_sum", TRT) == 61234 / 1e3
    assert value(out, f"{n.TTFT}_count", TRT) == 240.0
    assert buckets(out, n.TTFT, PRE) == {}


def test_triton_pending_requests_are_waiting_per_model() -> None:
    out = llm.normalise(fixture("triton"))
    assert value(out, n.WAITING, TRT) == 3.0
    assert value(out, n.WAITING, PRE) == 0.0


def test_triton_tensorrt_llm_gauges_give_running_and_kv_cache_without_their_type_label() -> None:
    out = llm.normalise(fixture("triton"))
    assert [(s.labels, s.value) for s in out if s.name == n.RUNNING] == [(make_labels(TRT), 5.0)]
    assert [(s.labels, s.value) for s in out if s.name == n.KV_CACHE] == [(make_labels(TRT), 0.6125)]


def test_triton_failures_are_summed_over_reason_per_model() -> None:
    out = llm.normalise(fixture("triton"))
    assert value(out, n.FAILURE, TRT) == 3.0 + 1.0 + 0.0 + 2.0
    assert value(out, n.FAILURE, PRE) == 0.0
    assert value(out, n.SUCCESS, TRT) == 240.0
    assert value(out, n.SUCCESS, PRE) == 246.0


def test_triton_exports_no_token_counts_or_time_per_output_token() -> None:
    produced = names(llm.normalise(fixture("triton")))
    assert not {n.PROMPT_TOKENS, n.GENERATION_TOKENS} & produced
    assert not any(name.startswith(n.TPOT) for name in produced)


def test_triton_without_tensorrt_llm_or_histograms_exports_only_core_figures() -> None:
    text = "\n".join(
        line
        for line in (FIXTURES / "triton.prom").read_text().splitlines()
        if "nv_trt_llm" not in line and "histogram" not in line
    )
    assert names(llm.normalise(scrape(text))) == (
        histogram_names(n.E2E, with_buckets=False)
        | histogram_names(n.QUEUE_TIME, with_buckets=False)
        | {n.WAITING, n.SUCCESS, n.FAILURE}
    )


def test_triton_failure_counter_without_reason_label_is_copied() -> None:
    out = llm.normalise(scrape('nv_inference_request_failure{model="m",version="2"} 5\n'))
    assert value(out, n.FAILURE, {"model": "m", "version": "2"}) == 5.0


# TorchServe


def test_torchserve_inference_latency_becomes_e2e_sum_in_seconds_over_requests() -> None:
    out = llm.normalise(fixture("torchserve"))
    assert value(out, f"{n.E2E}_sum", LLAMA) == 245678901.5 / 1e6
    assert value(out, f"{n.E2E}_sum", LLAMA) == 245.6789015
    assert value(out, f"{n.E2E}_count", LLAMA) == 120.0
    assert value(out, f"{n.E2E}_sum", MISTRAL) == 98.76543225
    assert value(out, f"{n.E2E}_count", MISTRAL) == 80.0


def test_torchserve_queue_latency_becomes_queue_time_sum_in_seconds() -> None:
    out = llm.normalise(fixture("torchserve"))
    assert value(out, f"{n.QUEUE_TIME}_sum", LLAMA) == 1234567.75 / 1e6
    assert value(out, f"{n.QUEUE_TIME}_sum", MISTRAL) == 0.0004565
    assert value(out, f"{n.QUEUE_TIME}_count", MISTRAL) == 80.0


def test_torchserve_exports_only_latencies_not_host_wide_http_counts() -> None:
    out = llm.normalise(fixture("torchserve"))
    assert names(out) == histogram_names(n.E2E, with_buckets=False) | histogram_names(n.QUEUE_TIME, with_buckets=False)


def test_torchserve_legacy_mode_labels_are_kept_as_exposed() -> None:
    text = (
        'ts_inference_requests_total{uuid="u1",model_name="bert",model_version="default",} 4.0\n'
        'ts_inference_latency_microseconds{uuid="u1",model_name="bert",model_version="default",} 2000000.0\n'
    )
    out = llm.normalise(scrape(text))
    labels = {"uuid": "u1", "model_name": "bert", "model_version": "default"}
    assert value(out, f"{n.E2E}_sum", labels) == 2.0
    assert value(out, f"{n.E2E}_count", labels) == 4.0


# Odd input never raises


def test_histogram_missing_count_still_maps_buckets_and_sum() -> None:
    text = (
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        'vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name="m"} 1.0\n'
        'vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 2.0\n'
        'vllm:e2e_request_latency_seconds_sum{model_name="m"} 1.5\n'
    )
    out = llm.normalise(scrape(text))
    assert names(out) == {f"{n.E2E}_bucket", f"{n.E2E}_sum"}


def test_nan_values_pass_through_without_raising() -> None:
    text = (
        'vllm:num_requests_waiting{model_name="m"} NaN\n'
        'vllm:request_success_total{finished_reason="stop",model_name="m"} NaN\n'
        'vllm:request_success_total{finished_reason="length",model_name="m"} 2\n'
    )
    out = llm.normalise(scrape(text))
    assert math.isnan(value(out, n.WAITING, {"model_name": "m"}))
    assert math.isnan(value(out, n.SUCCESS, {"model_name": "m"}))


def test_buckets_without_a_numeric_le_are_dropped() -> None:
    samples = [
        Sample("nv_inference_first_response_histogram_ms_bucket", make_labels({"model": "m"}), TS_MS, 1.0),
        Sample("nv_inference_first_response_histogram_ms_bucket", make_labels({"model": "m", "le": "x"}), TS_MS, 1.0),
        Sample("nv_inference_first_response_histogram_ms_bucket", make_labels({"model": "m", "le": "NaN"}), TS_MS, 1.0),
        Sample("nv_inference_first_response_histogram_ms_bucket", make_labels({"model": "m", "le": "250"}), TS_MS, 3.0),
        Sample("nv_inference_first_response_histogram_ms_count", make_labels({"model": "m"}), TS_MS, 3.0),
    ]
    out = llm.normalise(samples)
    assert buckets(out, n.TTFT, {"model": "m"}) == {"0.25": 3.0}
    assert value(out, f"{n.TTFT}_count", {"model": "m"}) == 3.0


def test_duration_counter_without_its_request_counter_gives_a_sum_only() -> None:
    out = llm.normalise(scrape('nv_inference_queue_duration_us{model="m",version="1"} 500\n'))
    assert series(out) == {(f"{n.QUEUE_TIME}_sum", make_labels({"model": "m", "version": "1"})): 0.0005}


def test_request_counter_without_a_duration_gives_no_latency_count() -> None:
    out = llm.normalise(scrape('ts_inference_requests_total{model_name="m",model_version="1",} 3\n'))
    assert out == []


def test_mixed_scrape_of_two_families_uses_the_first_detected_and_never_raises() -> None:
    samples = fixture("tgi") + fixture("torchserve") + scrape(NODE_EXPORTER)
    assert llm.detect_family(samples) == "tgi"
    assert names(llm.normalise(samples)) == names(llm.normalise(fixture("tgi")))


# Framework-free


def test_llm_package_imports_without_django() -> None:
    code = "import sys, monitoring.llm; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


HTTP_SERVER = """# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/predict",le="0.01"} 80
http_request_duration_seconds_bucket{handler="/predict",le="0.1"} 95
http_request_duration_seconds_bucket{handler="/predict",le="+Inf"} 100
http_request_duration_seconds_sum{handler="/predict"} 2.5
http_request_duration_seconds_count{handler="/predict"} 100
# TYPE http_requests_total counter
http_requests_total{handler="/predict",code="200"} 96
http_requests_total{handler="/predict",code="400"} 1
http_requests_total{handler="/predict",code="500"} 3
http_requests_in_flight 2
"""


def test_a_conventional_http_server_maps_latency_and_outcomes() -> None:
    samples = scrape(HTTP_SERVER)
    assert llm.detect_family(samples) == "http"
    out = {(s.name, dict(s.labels).get("le")): s.value for s in llm.normalise(samples)}
    assert out[("opsboard_llm_e2e_request_latency_seconds_bucket", "0.1")] == 95
    assert out[("opsboard_llm_e2e_request_latency_seconds_sum", None)] == 2.5
    assert out[("opsboard_llm_requests_success_total", None)] == 97
    assert out[("opsboard_llm_requests_failure_total", None)] == 3
    assert out[("opsboard_llm_requests_running", None)] == 2


def test_a_known_family_wins_over_the_http_conventions() -> None:
    samples = scrape(HTTP_SERVER + "vllm:num_requests_running 1\n")
    assert llm.detect_family(samples) == "vllm"
