"""Any HTTP model server following Prometheus's naming conventions for HTTP servers.

``http_request_duration_seconds`` (histogram) and ``http_requests_total`` labelled with the
status as ``code`` or ``status`` are what Prometheus's instrumentation guidelines and the
common middleware write (prometheus-fastapi-instrumentator, the Go and Java client
libraries' HTTP handlers, Opsboard's demo model server). Responses of class 5xx count as
failures, 1xx-4xx as answered; ``http_requests_in_flight`` is the running count.

Lowest precedence: a server of a known family may also expose these names.
"""

from __future__ import annotations

from monitoring.llm import normalised as n
from monitoring.llm.base import Adapter, Copy, Histogram, Total, counter

REQUESTS = counter("http_requests_total")


def _status(labels: dict[str, str]) -> str:
    return labels.get("code") or labels.get("status") or ""


def _failed(labels: dict[str, str]) -> bool:
    return _status(labels).startswith("5")


def _answered(labels: dict[str, str]) -> bool:
    return bool(_status(labels)) and not _failed(labels)


class HttpAdapter(Adapter):
    family = "http"
    marker_names = frozenset({"http_request_duration_seconds_bucket", "http_request_duration_seconds_sum"})
    rules = (
        Histogram(n.E2E, ("http_request_duration_seconds",)),
        Copy(n.RUNNING, ("http_requests_in_flight",)),
        Total(n.SUCCESS, REQUESTS, drop=("code", "status"), keep=_answered),
        Total(n.FAILURE, REQUESTS, drop=("code", "status"), keep=_failed),
    )
