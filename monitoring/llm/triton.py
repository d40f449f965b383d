"""NVIDIA Triton Inference Server ``/metrics`` → normalised metrics.

Names, types and units from:

- triton-inference-server/server ``docs/user_guide/metrics.md``: per-model (``model``,
  ``version`` labels) counters ``nv_inference_request_success``,
  ``nv_inference_request_failure`` (with ``reason`` = REJECTED, CANCELED, BACKEND, OTHER in
  newer releases), the cumulative latency counters ``nv_inference_request_duration_us`` and
  ``nv_inference_queue_duration_us`` in microseconds, the gauge
  ``nv_inference_pending_request_count`` ("pending request count ... and queue size per-model
  can be used interchangeably"), and the experimental histogram
  ``nv_inference_first_response_histogram_ms`` in milliseconds (decoupled models, enabled with
  ``--metrics-config histogram_latencies=true``).
- triton-inference-server/core ``src/infer_stats.cc``: the duration counters are only added to
  on success (``UpdateSuccess*``, cache hits included); failures add to no duration counter.
  So each duration counter becomes a ``_sum`` in seconds (divided by 1e6) whose ``_count`` is
  ``nv_inference_request_success`` of the same model and version; the metrics guide says as
  much ("``_count`` and ``_sum`` of a summary should generally match the counter metric
  equivalents": ``nv_inference_request_success`` and ``nv_inference_queue_duration_us``).
- triton-inference-server/tensorrtllm_backend ``README.md`` ("Triton Metrics"): the TensorRT-LLM
  backend's gauges ``nv_trt_llm_request_metrics{request_type}`` (``scheduled``: the requests
  scheduled in the current iteration, i.e. running) and
  ``nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type}`` (newer releases add ``fraction``,
  the fraction of KV-cache blocks in use, 0..1).

Time to first token is Triton's time to first *response*: for a streaming (decoupled) LLM
model that is the first streamed chunk. Triton core exports no token counts and no
time-per-output-token; those stay "not exported". ``nv_inference_count`` counts batch items,
not tokens, and is not used.
"""

from __future__ import annotations

from monitoring.llm import normalised as n
from monitoring.llm.base import Adapter, Copy, Histogram, Select, SumAndCount, Total, counter

MICROSECONDS = 1e6
MILLISECONDS = 1e3
SUCCESS_COUNT = counter("nv_inference_request_success")


class TritonAdapter(Adapter):
    family = "triton"
    prefixes = ("nv_inference_",)
    rules = (
        Histogram(n.TTFT, ("nv_inference_first_response_histogram_ms",), divisor=MILLISECONDS),
        SumAndCount(n.E2E, counter("nv_inference_request_duration_us"), SUCCESS_COUNT, divisor=MICROSECONDS),
        SumAndCount(n.QUEUE_TIME, counter("nv_inference_queue_duration_us"), SUCCESS_COUNT, divisor=MICROSECONDS),
        Copy(n.WAITING, ("nv_inference_pending_request_count",)),
        Select(n.RUNNING, "nv_trt_llm_request_metrics", "request_type", "scheduled"),
        Select(n.KV_CACHE, "nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", "fraction"),
        Copy(n.SUCCESS, SUCCESS_COUNT),
        Total(n.FAILURE, counter("nv_inference_request_failure"), drop=("reason",)),
    )
