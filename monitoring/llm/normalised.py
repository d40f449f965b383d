"""The normalised metric set: names, types and meanings. Framework-free.

Pages and alert rules are written against these names only. Units are seconds, ratios (0..1)
and counts. Histograms are Prometheus classic histograms: ``<name>_bucket{le}``, ``<name>_sum``
and ``<name>_count`` where the server has buckets, otherwise only ``_sum`` and ``_count``.
"""

from __future__ import annotations

from dataclasses import dataclass

TTFT = "opsboard_llm_time_to_first_token_seconds"
TPOT = "opsboard_llm_time_per_output_token_seconds"
E2E = "opsboard_llm_e2e_request_latency_seconds"
QUEUE_TIME = "opsboard_llm_queue_time_seconds"
WAITING = "opsboard_llm_requests_waiting"
RUNNING = "opsboard_llm_requests_running"
KV_CACHE = "opsboard_llm_kv_cache_usage_ratio"
PROMPT_TOKENS = "opsboard_llm_prompt_tokens_total"
GENERATION_TOKENS = "opsboard_llm_generation_tokens_total"
SUCCESS = "opsboard_llm_requests_success_total"
FAILURE = "opsboard_llm_requests_failure_total"


@dataclass(frozen=True, slots=True)
class NormalisedMetric:
    """A normalised metric's Prometheus type ("counter", "gauge" or "histogram") and meaning."""

    type: str
    help: str


NORMALISED: dict[str, NormalisedMetric] = {
    TTFT: NormalisedMetric("histogram", "Time from a request's arrival to its first output token, in seconds."),
    TPOT: NormalisedMetric("histogram", "Time per output token after the first (inter-token latency), in seconds."),
    E2E: NormalisedMetric("histogram", "End-to-end request latency inside the server, in seconds."),
    QUEUE_TIME: NormalisedMetric("histogram", "Time a request waited in the server's queue, in seconds."),
    WAITING: NormalisedMetric("gauge", "Requests waiting to be scheduled (queue length)."),
    RUNNING: NormalisedMetric("gauge", "Requests currently being executed."),
    KV_CACHE: NormalisedMetric("gauge", "Fraction of the KV cache in use, 0..1."),
    PROMPT_TOKENS: NormalisedMetric("counter", "Prompt (input) tokens processed."),
    GENERATION_TOKENS: NormalisedMetric("counter", "Tokens generated (output)."),
    SUCCESS: NormalisedMetric("counter", "Requests that completed."),
    FAILURE: NormalisedMetric("counter", "Requests that failed."),
}
