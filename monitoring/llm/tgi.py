"""Hugging Face Text Generation Inference (TGI) ``/metrics`` → normalised metrics.

Names, types and units from:

- huggingface/text-generation-inference ``docs/source/reference/metrics.md``
  (https://huggingface.co/docs/text-generation-inference/reference/metrics): the ``tgi_``
  metrics, their types (histogram, counter, gauge) and units (seconds, counts).
- huggingface/text-generation-inference ``router/src/server.rs``: the histograms are exported
  with buckets (``metrics-exporter-prometheus``; durations 0.0001 * 1.5^n seconds), the
  request metrics carry no labels; ``router/src/infer/mod.rs`` and ``router/src/validation.rs``:
  ``tgi_request_failure`` is counted per ``err`` (validation, overloaded, generation, ...) and
  ``tgi_request_input_length`` is observed once per validated request.

TGI exports no time-to-first-token and no KV-cache figure, so those stay "not exported";
``tgi_batch_inference_duration{method="prefill"}`` times a whole batch's prefill, not a
request's first token, and is not used for it. Token counters come from the ``_sum`` of the
per-request token histograms: ``tgi_request_input_length`` (prompt tokens of validated
requests) and ``tgi_request_generated_tokens`` (tokens of completed requests). Time per output
token is TGI's per-request mean (``inference time / generated tokens``, prefill included).
"""

from __future__ import annotations

from monitoring.llm import normalised as n
from monitoring.llm.base import Adapter, Copy, Histogram, Total, counter


class TgiAdapter(Adapter):
    family = "tgi"
    prefixes = ("tgi_",)
    rules = (
        Histogram(n.TPOT, ("tgi_request_mean_time_per_token_duration",)),
        Histogram(n.E2E, ("tgi_request_duration",)),
        Histogram(n.QUEUE_TIME, ("tgi_request_queue_duration",)),
        Copy(n.WAITING, ("tgi_queue_size",)),
        Copy(n.RUNNING, ("tgi_batch_current_size",)),
        Copy(n.PROMPT_TOKENS, ("tgi_request_input_length_sum",)),
        Copy(n.GENERATION_TOKENS, ("tgi_request_generated_tokens_sum",)),
        Copy(n.SUCCESS, counter("tgi_request_success")),
        Total(n.FAILURE, counter("tgi_request_failure"), drop=("err",)),
    )
