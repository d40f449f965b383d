"""/api/v1/incidents (list, one, acknowledge, resolve, note) and /api/v1/alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import alertmanager, incidents
from alerts.incident_views import filtered
from alerts.models import Incident, IncidentEvent
from opsboard.accounts import roles
from opsboard.accounts.authentication import BearerTokenAuthentication
from opsboard.api_input import refuse_unstorable_query
from opsboard.audit.services import Actor
from opsboard.storable import storable


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentEvent
        fields = ["at", "kind", "actor_name", "text", "data"]


class IncidentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    code = serializers.CharField(read_only=True)
    # Null without a rule (an Alertmanager incident), an assignee, or an acknowledgement.
    rule_id = serializers.UUIDField(source="rule.uid", read_only=True, default=None, allow_null=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None, allow_null=True)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "code",
            "title",
            "summary",
            "severity",
            "status",
            "source",
            "rule_id",
            "group_labels",
            "assignee",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "escalation_step",
            "escalation_round",
            "reopened",
        ]


class IncidentDetailSerializer(IncidentSerializer):
    timeline = EventSerializer(source="events", many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline"]


COMMENT = inline_serializer("IncidentComment", {"comment": serializers.CharField(required=False, allow_blank=True)})


@extend_schema_view(
    get=extend_schema(
        operation_id="incidents_list",
        parameters=[
            OpenApiParameter("status", str, enum=["open", "triggered", "acknowledged", "resolved", "all"]),
            OpenApiParameter("severity", str),
            OpenApiParameter("model", str),
            OpenApiParameter("assignee", str),
        ],
    )
)
class IncidentListView(generics.ListAPIView):
    """Open incidents first, newest first; ``status=all`` lists resolved ones too."""

    required_role = roles.VIEWER
    serializer_class = IncidentSerializer

    def get_queryset(self) -> QuerySet[Incident]:
        refuse_unstorable_query(self.request)
        return filtered(self.request)


@extend_schema_view(get=extend_schema(operation_id="incidents_retrieve"))
class IncidentDetailView(generics.RetrieveAPIView):
    required_role = roles.VIEWER
    serializer_class = IncidentDetailSerializer
    queryset = Incident.objects.select_related("rule", "assignee", "acknowledged_by")
    lookup_field = "uid"


class IncidentActionView(APIView):
    """Acknowledge, resolve or comment as the token's owner."""

    required_role = roles.RESPONDER
    action = ""

    def _comment(self, request: Request) -> str:
        comment = request.data.get("comment", "") if isinstance(request.data, dict) else ""
        if not isinstance(comment, str):
            raise serializers.ValidationError({"comment": ["must be text"]})
        return comment.strip()[:2000]

    def post(self, request: Request, uid: str) -> Response:
        incident = get_object_or_404(Incident, uid=uid)
        by, comment = Actor.of(request), self._comment(request)
        if self.action == "ack":
            incident = incidents.acknowledge(incident, by=by, comment=comment, via="api")
        elif self.action == "resolve":
            incident = incidents.resolve(incident, by=by, comment=comment, via="api")
        else:
            if not comment:
                raise serializers.ValidationError({"comment": ["a note needs text"]})
            incidents.add_note(incident, comment, by=by)
        incident.refresh_from_db()
        return Response(IncidentDetailSerializer(incident).data)


class IncidentAckView(IncidentActionView):
    action = "ack"

    @extend_schema(request=COMMENT, responses=IncidentDetailSerializer, operation_id="incidents_acknowledge")
    def post(self, request: Request, uid: str) -> Response:
        return super().post(request, uid)


class IncidentResolveView(IncidentActionView):
    action = "resolve"

    @extend_schema(request=COMMENT, responses=IncidentDetailSerializer, operation_id="incidents_resolve")
    def post(self, request: Request, uid: str) -> Response:
        return super().post(request, uid)


class IncidentNoteView(IncidentActionView):
    action = "note"

    @extend_schema(request=COMMENT, responses=IncidentDetailSerializer, operation_id="incidents_note")
    def post(self, request: Request, uid: str) -> Response:
        return super().post(request, uid)


ALERTMANAGER_EXAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="GPUHot"}',
    "status": "firing",
    "receiver": "opsboard",
    "groupLabels": {"alertname": "GPUHot", "node": "gpu-3"},
    "commonLabels": {"alertname": "GPUHot", "node": "gpu-3", "severity": "critical"},
    "commonAnnotations": {"summary": "gpu-3 is hot"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "GPUHot", "node": "gpu-3", "gpu": "0", "severity": "critical"},
            "annotations": {"summary": "gpu-3 is hot"},
            "startsAt": "2026-11-29T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "c6a1f0e2b3d4a5f6",
        }
    ],
}


class AlertmanagerView(APIView):
    """Alertmanager's webhook receiver (payload version 4): firing alerts open or join
    incidents grouped by the payload's group labels; resolved ones resolve them."""

    required_role = roles.VIEWER
    write_role = roles.VIEWER
    required_scope = "ingest"
    authentication_classes = [BearerTokenAuthentication]
    # DRF's own parsers: _check_storable names unstorable text in the webhook's error shape.
    parser_classes = [parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser]

    @extend_schema(
        request=inline_serializer("AlertmanagerWebhook", {"version": serializers.CharField()}),
        examples=[OpenApiExample("Alertmanager webhook", value=ALERTMANAGER_EXAMPLE, request_only=True)],
        responses={
            200: inline_serializer(
                "AlertmanagerReceived",
                {
                    "firing": serializers.IntegerField(),
                    "resolved": serializers.IntegerField(),
                    "incidents": serializers.ListField(child=serializers.UUIDField()),
                },
            ),
        },
        operation_id="alertmanager_receive",
    )
    def post(self, request: Request) -> Response:
        try:
            _check_storable(request.data)
            received = alertmanager.receive(request.data)
        except alertmanager.PayloadError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"firing": received.firing, "resolved": received.resolved, "incidents": received.incidents})


# What alertmanager.receive() does not check but the database refuses. (These checks belong
# in alerts.alertmanager's _checked() and _alert(); they are here until that module takes them.)
MAX_FINGERPRINT_LENGTH = 64  # ExternalAlert.fingerprint


def _check_storable(payload: Any) -> None:
    """PayloadError naming the first field that would fail to store: a mapping that is not an
    object, a fingerprint over 64 characters, a time without a zone or past year 9999, or text
    with NUL (PostgreSQL refuses it) or a lone surrogate (JSON's \\ud800; UTF-8 has none)."""
    if not isinstance(payload, dict):
        return  # receive() names it
    _check_text(payload)
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        _check_object(payload.get(key), key)
    alerts = payload.get("alerts")
    for index, alert in enumerate(alerts if isinstance(alerts, list) else []):
        if isinstance(alert, dict):
            _check_alert(alert, f"alerts[{index}]")


def _check_alert(alert: dict[str, Any], where: str) -> None:
    _check_object(alert.get("annotations"), f"{where}.annotations")
    if len(str(alert.get("fingerprint") or "")) > MAX_FINGERPRINT_LENGTH:
        raise alertmanager.PayloadError(f"{where}.fingerprint is longer than {MAX_FINGERPRINT_LENGTH} characters")
    for key in ("startsAt", "endsAt"):
        _check_time(alert.get(key), f"{where}.{key}")


def _check_object(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise alertmanager.PayloadError(f"{where} must be an object")


def _check_time(raw: Any, where: str) -> None:
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return  # receive() names it
    if parsed.tzinfo is None:
        raise alertmanager.PayloadError(f"{where}: {raw!r} has no time zone; RFC 3339 times end in Z or an offset")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise alertmanager.PayloadError(f"{where}: {raw!r} is outside the years 1 to 9999 in UTC") from None


def _check_text(payload: dict[str, Any]) -> None:
    """Every key and text in the payload (walked without recursion: JSON nests deeply)."""
    pending: list[tuple[str, Any]] = [("", payload)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and not storable(value):
            raise alertmanager.PayloadError(f"{where} holds a NUL character or a lone surrogate")
        if isinstance(value, dict):
            pending += [(f"{where}.{key}" if where else key, item) for key, item in value.items()]
            # Keys last, so that they are checked before any path that names them.
            pending += [(f"a key in {where or 'the body'}", key) for key in value]
        elif isinstance(value, list):
            pending += [(f"{where}[{index}]", item) for index, item in enumerate(value)]
