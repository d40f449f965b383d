"""TorchServe metrics API (``metrics_mode`` prometheus or legacy) → normalised metrics.

Names, types and units from:

- pytorch/serve ``docs/metrics.md`` ("Frontend Metrics") and ``ts/configs/metrics.yaml``:
  counters ``ts_inference_requests_total`` (requests received), and
  ``ts_inference_latency_microseconds`` / ``ts_queue_latency_microseconds`` (cumulative, in
  microseconds), all labelled ``model_name``, ``model_version``, ``hostname``.
- pytorch/serve ``docs/metrics_api.md``: the exposition, where these counters appear without a
  ``_total`` suffix (prometheus_client's parser adds it).
- pytorch/serve ``frontend/server/src/main/java/org/pytorch/serve/job/RestJob.java``: both
  latencies are added once per answered inference request, the inference latency measured from
  the request's arrival (queue included), so it is the end-to-end latency inside the server.

The latency counters become ``_sum`` in seconds (divided by 1e6) with
``ts_inference_requests_total`` of the same model as ``_count``. That counter is incremented
when a request arrives, the latencies when it is answered, so under load or errors the count
runs ahead by the requests in flight or rejected before a worker saw them; it is the only
per-model request count TorchServe exports.

Not mapped: ``Requests2XX``/``Requests4XX``/``Requests5XX`` count every HTTP response the
frontend sends, health checks and the management API included, per host and not per model
(``NettyUtils.sendHttpResponse``), so they are not a count of inference successes or failures.
``QueueTime`` is one request's queue time in milliseconds, not a queue length. TorchServe
exports no token counts, time to first token, per-token latency, running count or KV cache.

Recognised by the ``ts_`` counters above or by ``WorkerLoadTime``/``WorkerThreadTime``, names
only TorchServe uses; an idle server has worker gauges before it has any request counter.
"""

from __future__ import annotations

from monitoring.llm import normalised as n
from monitoring.llm.base import Adapter, SumAndCount, counter

MICROSECONDS = 1e6
REQUESTS = counter("ts_inference_requests_total")


class TorchServeAdapter(Adapter):
    family = "torchserve"
    marker_names = frozenset(
        {
            *REQUESTS,
            *counter("ts_inference_latency_microseconds"),
            *counter("ts_queue_latency_microseconds"),
            "WorkerLoadTime",
            "WorkerThreadTime",
        }
    )
    rules = (
        SumAndCount(n.E2E, counter("ts_inference_latency_microseconds"), REQUESTS, divisor=MICROSECONDS),
        SumAndCount(n.QUEUE_TIME, counter("ts_queue_latency_microseconds"), REQUESTS, divisor=MICROSECONDS),
    )
