"""The Prometheus-shaped HTTP API (query_range, query, series, labels) and the push API.

Answers use the JSON shape of Prometheus's HTTP API, so Prometheus clients and Grafana's
Prometheus data source can read from Opsboard. Reads accept GET and form-encoded POST
(Grafana posts by default), both with the ``read`` scope.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import push, store
from monitoring.cardinality import new_series_budget, spend_new_series
from monitoring.labels import label_names, label_values
from monitoring.promql import PromQLError, parse_duration, parse_selector
from monitoring.query import FUNCTIONS, QueryError, matching_series, query_range
from monitoring.samples import LABEL_NAME, InvalidSample
from opsboard import metrics
from opsboard.accounts import roles
from opsboard.accounts.authentication import BearerTokenAuthentication

logger = logging.getLogger(__name__)


class BadData(Exception):
    """A parameter that cannot be used; answered 400 in Prometheus's error shape."""


def prometheus_error(message: str, status: int = 400, error_type: str = "bad_data") -> Response:
    return Response({"status": "error", "errorType": error_type, "error": message}, status=status)


def prometheus_success(data: Any, infos: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if infos:
        body["infos"] = infos
    return Response(body)


def format_value(value: float) -> str:
    """Sample values as Prometheus writes them: strings, with NaN and ±Inf spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def parse_time(raw: str | None, name: str, default: float | None = None) -> int:
    """A time parameter (Unix seconds or RFC 3339) as milliseconds."""
    if raw is None or raw == "":
        if default is None:
            raise BadData(f"missing parameter {name!r}")
        return round(default * 1000)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = _rfc3339_seconds(raw)
    # NaN, ±Inf and times past int64 milliseconds (as Prometheus) are no time.
    if seconds is None or not -MAX_TIME_S <= seconds <= MAX_TIME_S:
        raise BadData(f"invalid parameter {name!r}: cannot parse {raw!r} to a valid timestamp")
    return round(seconds * 1000)


MAX_TIME_S = (2**63 - 1) // 1000


def _rfc3339_seconds(raw: str) -> float | None:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_step(raw: str | None) -> int:
    if not raw:
        raise BadData("missing parameter 'step'")
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise BadData(f"invalid parameter 'step': {exc}") from None
    if seconds <= 0:
        raise BadData("invalid parameter 'step': zero or negative query resolution step widths are not accepted")
    return round(seconds * 1000)


class PrometheusReadView(APIView):
    """Base of the read endpoints: Viewer role, read scope for tokens, GET or form POST."""

    required_role = roles.VIEWER
    write_role = roles.VIEWER
    required_scope = "read"
    parser_classes = [FormParser, MultiPartParser]

    def params(self, request: Request) -> QueryDict:
        """The query string; on POST the form body's values come first, as Prometheus reads them.

        A POST without a form body parses to a plain dict: it adds nothing.
        """
        if request.method != "POST":
            return request.query_params
        merged = request.query_params.copy()
        if isinstance(request.data, QueryDict):
            for name in request.data:
                merged.setlist(name, request.data.getlist(name) + merged.getlist(name))
        return merged

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, BadData | QueryError | PromQLError):
            return prometheus_error(str(exc))
        if isinstance(exc, OperationalError | InterfaceError):
            return database_unavailable(exc)
        return super().handle_exception(exc)


def database_unavailable(exc: Exception) -> Response:
    logger.warning("database unavailable: %s", exc)
    response = prometheus_error("the database is unavailable; retry shortly", 503, "unavailable")
    response["Retry-After"] = "5"
    return response


MATRIX_EXAMPLE = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"__name__": "up", "job": "vllm"}, "values": [[1700000000, "1"], [1700000015, "1"]]}],
    },
}
READ_RESPONSES = {
    200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("matrix", value=MATRIX_EXAMPLE)]),
    400: OpenApiResponse(OpenApiTypes.OBJECT, description='{"status": "error", "errorType": "bad_data", "error": …}'),
}
RANGE_PARAMETERS = [
    OpenApiParameter("query", str, required=True, description="A selector, or an expression of the PromQL subset"),
    OpenApiParameter("start", str, required=True, description="Unix seconds or RFC 3339"),
    OpenApiParameter("end", str, required=True, description="Unix seconds or RFC 3339"),
    OpenApiParameter("step", str, required=True, description="Seconds or a duration such as 15s"),
    OpenApiParameter("fn", str, enum=list(FUNCTIONS), description="Applied to a bare selector over each step"),
    OpenApiParameter("q", float, description="The quantile, with fn=histogram_quantile"),
]


class QueryRangeView(PrometheusReadView):
    @extend_schema(parameters=RANGE_PARAMETERS, responses=READ_RESPONSES, operation_id="query_range")
    def get(self, request: Request) -> Response:
        params = self.params(request)
        query = params.get("query")
        if not query:
            raise BadData("missing parameter 'query'")
        start, end = parse_time(params.get("start"), "start"), parse_time(params.get("end"), "end")
        q = _optional_float(params.get("q"), "q")
        result = query_range(query, start, end, parse_step(params.get("step")), params.get("fn") or None, q)
        data = {"resultType": "matrix", "result": [_matrix_entry(series) for series in result.series]}
        return prometheus_success(data, result.infos)

    @extend_schema(request=None, parameters=RANGE_PARAMETERS, responses=READ_RESPONSES, operation_id="query_range_post")
    def post(self, request: Request) -> Response:
        return self.get(request)


def _optional_float(raw: str | None, name: str) -> float | None:
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadData(f"invalid parameter {name!r}: {raw!r} is not a number") from None


def _matrix_entry(series: Any) -> dict[str, Any]:
    values = [[ts / 1000, format_value(v)] for ts, v in zip(series.ts.tolist(), series.values.tolist(), strict=True)]
    return {"metric": series.labels, "values": values}


INSTANT_PARAMETERS = [
    OpenApiParameter("query", str, required=True),
    OpenApiParameter("time", str, description="Unix seconds or RFC 3339; default now"),
]


class QueryView(PrometheusReadView):
    """An instant query: the expression at one time."""

    @extend_schema(parameters=INSTANT_PARAMETERS, responses=READ_RESPONSES, operation_id="query")
    def get(self, request: Request) -> Response:
        params = self.params(request)
        query = params.get("query")
        if not query:
            raise BadData("missing parameter 'query'")
        at = parse_time(params.get("time"), "time", default=time.time())
        result = query_range(query, at, at, 1_000)  # the finest source still holding `at`
        vector = [
            {"metric": series.labels, "value": [series.ts[-1] / 1000, format_value(series.values[-1])]}
            for series in result.series
            if series.ts.size
        ]
        return prometheus_success({"resultType": "vector", "result": vector})

    @extend_schema(request=None, parameters=INSTANT_PARAMETERS, responses=READ_RESPONSES, operation_id="query_post")
    def post(self, request: Request) -> Response:
        return self.get(request)


class SeriesView(PrometheusReadView):
    @extend_schema(
        parameters=[OpenApiParameter("match[]", str, many=True, required=True)],
        responses=READ_RESPONSES,
        operation_id="series",
    )
    def get(self, request: Request) -> Response:
        matchers = self.params(request).getlist("match[]")
        if not matchers:
            raise BadData("no match[] parameter provided")
        found: dict[int, dict[str, str]] = {}
        for raw in matchers:
            for series in matching_series(parse_selector(raw)):
                found[series.id] = {"__name__": series.name, **series.labels}
        return prometheus_success(list(found.values()))

    @extend_schema(request=None, responses=READ_RESPONSES, operation_id="series_post")
    def post(self, request: Request) -> Response:
        return self.get(request)


class LabelsView(PrometheusReadView):
    @extend_schema(responses=READ_RESPONSES, operation_id="labels")
    def get(self, request: Request) -> Response:
        return prometheus_success(label_names())

    @extend_schema(request=None, responses=READ_RESPONSES, operation_id="labels_post")
    def post(self, request: Request) -> Response:
        return self.get(request)


class LabelValuesView(PrometheusReadView):
    @extend_schema(responses=READ_RESPONSES, operation_id="label_values")
    def get(self, request: Request, name: str) -> Response:
        # As Prometheus; a name no sample can have (one with NUL failed PostgreSQL's query).
        if not LABEL_NAME.match(name):
            raise BadData(f"invalid label name: {name!r}")
        return prometheus_success(label_values(name))


# --- Push ----------------------------------------------------------------------------

PUSH_JSON_EXAMPLE = {"samples": [{"name": "train_loss", "labels": {"run": "r1"}, "value": 0.42, "ts": 1700000000.5}]}


class PushView(APIView):
    """Samples in, answered only once they are committed: all of them or none."""

    required_role = roles.VIEWER
    write_role = roles.VIEWER
    required_scope = "ingest"
    authentication_classes = [BearerTokenAuthentication]
    parser_classes: list = []

    def handle_exception(self, exc: Exception) -> Response:
        # The token is looked up before post() runs: a database that is down fails there first.
        if isinstance(exc, OperationalError | InterfaceError):
            return database_unavailable(exc)
        return super().handle_exception(exc)

    @extend_schema(
        request={
            "text/plain": OpenApiTypes.STR,
            "application/openmetrics-text": OpenApiTypes.STR,
            "application/json": inline_serializer(
                "PushBody",
                {
                    "samples": serializers.ListField(
                        child=inline_serializer(
                            "PushSample",
                            {
                                "name": serializers.CharField(),
                                "labels": serializers.DictField(child=serializers.CharField(), required=False),
                                "value": serializers.JSONField(help_text="a number, or NaN, +Inf, -Inf as text"),
                                "ts": serializers.FloatField(required=False, help_text="Unix seconds; default now"),
                            },
                        )
                    )
                },
            ),
        },
        examples=[OpenApiExample("JSON samples", value=PUSH_JSON_EXAMPLE, request_only=True)],
        responses={
            200: inline_serializer("PushAccepted", {"accepted": serializers.IntegerField()}),
            400: OpenApiResponse(description="Malformed body; the error names the line or sample"),
            413: OpenApiResponse(description="Body or sample count over its limit; the error names the limit"),
            415: OpenApiResponse(description="A Content-Encoding other than gzip"),
            422: OpenApiResponse(description="Refused samples (future, too old, too many new series)"),
            503: OpenApiResponse(description="The database is unavailable; retry after Retry-After seconds"),
        },
        operation_id="push",
    )
    def post(self, request: Request) -> Response:
        now_ms = int(time.time() * 1000)
        limits = push.PushLimits(
            max_body_bytes=settings.PUSH_MAX_BODY_BYTES,
            max_samples=settings.PUSH_MAX_SAMPLES,
            max_future_ms=settings.PUSH_MAX_FUTURE_S * 1000,
            oldest_ms=now_ms - settings.RETENTION_RAW_S * 1000,
        )
        try:
            return self._push(request, now_ms, limits)
        except push.PushRefused as exc:
            return _refused(exc.status, str(exc), exc.limit)
        except store.CardinalityLimitExceeded as exc:
            limit = settings.PUSH_MAX_NEW_SERIES_PER_MINUTE
            message = f"{exc}; the limit is {limit} new series per token per minute"
            return _refused(422, message, "PUSH_MAX_NEW_SERIES_PER_MINUTE")
        except InvalidSample as exc:
            return _refused(400, str(exc))

    def _push(self, request: Request, now_ms: int, limits: push.PushLimits) -> Response:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limits.max_body_bytes:
            raise push.too_large(declared, limits)
        raw = request._request.read(limits.max_body_bytes + 1)
        body = push.decode_body(raw, request.META.get("HTTP_CONTENT_ENCODING", ""), limits)
        samples = push.parse_body(body, request.content_type or "text/plain", now_ms, limits)
        token = request.auth
        budget = new_series_budget(str(token.uid), settings.PUSH_MAX_NEW_SERIES_PER_MINUTE)
        result = store.write(samples, max_new_series=budget)
        metrics.count_samples("push", result.received)
        spend_new_series(str(token.uid), result.series_created)
        return Response({"accepted": result.received})


def _refused(status: int, message: str, limit: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if limit:
        body["limit"] = limit
    return Response(body, status=status)
