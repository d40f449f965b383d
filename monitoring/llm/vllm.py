"""vLLM's ``/metrics`` → normalised metrics.

Names, types and units from vLLM's own definitions:

- vllm-project/vllm ``vllm/v1/metrics/loggers.py`` (``PrometheusStatLogger``): every metric has
  the ``vllm:`` prefix and the labels ``model_name`` and ``engine``; timings are histograms in
  seconds; ``vllm:request_success`` carries ``finished_reason``.
- vllm-project/vllm ``docs/design/metrics.md`` and https://docs.vllm.ai/en/stable/usage/metrics/.

Renames handled (the first name present wins per series; vLLM exports both names for a
release or two, with the same values):

- ``vllm:kv_cache_usage_perc`` (0.9+) over ``vllm:gpu_cache_usage_perc`` (older). Both are
  fractions, 0..1, despite "perc": "KV-cache usage. 1 means 100 percent usage."
- ``vllm:inter_token_latency_seconds`` (0.11+) over ``vllm:time_per_output_token_seconds``
  (older; same observations, renamed). ``vllm:request_time_per_output_token_seconds`` (a
  per-request mean) is a different quantity and is not mapped.

Success and failure both come from ``vllm:request_success_total``, summed over
``finished_reason``: the reason ``error`` (newer vLLM: "retryable request-level internal error
... always converted to 500 Internal Server Error", ``vllm/v1/engine/__init__.py``) counts as a
failure, every other reason (stop, length, abort, repetition) as vLLM counts it, a success.
Older vLLM has no ``error`` reason, so failures are "not exported" there.
"""

from __future__ import annotations

from monitoring.llm import normalised as n
from monitoring.llm.base import Adapter, Copy, Histogram, Total, counter

REASON = "finished_reason"


def _is_error(labels: dict[str, str]) -> bool:
    return labels.get(REASON) == "error"


def _is_not_error(labels: dict[str, str]) -> bool:
    return labels.get(REASON) != "error"


class VllmAdapter(Adapter):
    family = "vllm"
    prefixes = ("vllm:",)
    rules = (
        Histogram(n.TTFT, ("vllm:time_to_first_token_seconds",)),
        Histogram(n.TPOT, ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")),
        Histogram(n.E2E, ("vllm:e2e_request_latency_seconds",)),
        Histogram(n.QUEUE_TIME, ("vllm:request_queue_time_seconds",)),
        Copy(n.WAITING, ("vllm:num_requests_waiting",)),
        Copy(n.RUNNING, ("vllm:num_requests_running",)),
        Copy(n.KV_CACHE, ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")),
        Copy(n.PROMPT_TOKENS, counter("vllm:prompt_tokens")),
        Copy(n.GENERATION_TOKENS, counter("vllm:generation_tokens")),
        Total(n.SUCCESS, counter("vllm:request_success"), drop=(REASON,), keep=_is_not_error),
        Total(n.FAILURE, counter("vllm:request_success"), drop=(REASON,), keep=_is_error),
    )
