"""/api/v1/rules, /api/v1/alerts and /api/v1/silences."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import matchers, rules, silences
from alerts.models import AlertRule, AlertState, EscalationPolicy, Silence
from alerts.schedule import Recurrence
from monitoring.promql import PromQLError
from opsboard.accounts import roles
from opsboard.api_input import refuse_unstorable_query
from opsboard.audit.services import Actor


class RuleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    condition = serializers.DictField(required=False, default=dict)
    labels = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    annotations = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    group_by = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    inhibit_equal = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    policy = serializers.SlugRelatedField(
        slug_field="uid",
        queryset=EscalationPolicy.objects.all(),
        allow_null=True,
        required=False,
        help_text="The escalation policy's id; the default policy when null.",
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            *[f for f in rules.EDITABLE if f != "policy_id"],
            "policy",
            "version",
            "last_eval_at",
            "last_eval_duration_s",
            "last_eval_error",
        ]
        read_only_fields = ["version", "last_eval_at", "last_eval_duration_s", "last_eval_error"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "policy" in attrs:
            policy = attrs.pop("policy")
            attrs["policy_id"] = policy.pk if policy else None
        current = rules.snapshot(self.instance) if self.instance else {}
        errors = rules.validate({**current, **attrs})
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


@extend_schema_view(get=extend_schema(operation_id="rules_list"), post=extend_schema(operation_id="rules_create"))
class RuleListView(generics.ListCreateAPIView):
    required_role = roles.VIEWER
    write_role = roles.EDITOR
    serializer_class = RuleSerializer
    queryset = AlertRule.objects.all()

    def perform_create(self, serializer: RuleSerializer) -> None:
        serializer.instance = rules.create_rule(serializer.validated_data, by=Actor.of(self.request))


@extend_schema_view(
    get=extend_schema(operation_id="rules_retrieve"),
    put=extend_schema(operation_id="rules_update"),
    patch=extend_schema(operation_id="rules_partial_update"),
    delete=extend_schema(operation_id="rules_destroy"),
)
class RuleDetailView(generics.RetrieveUpdateDestroyAPIView):
    required_role = roles.VIEWER
    write_role = roles.EDITOR
    serializer_class = RuleSerializer
    queryset = AlertRule.objects.all()
    lookup_field = "uid"

    def perform_update(self, serializer: RuleSerializer) -> None:
        serializer.instance = rules.update_rule(
            serializer.instance, serializer.validated_data, by=Actor.of(self.request)
        )

    def perform_destroy(self, instance: AlertRule) -> None:
        rules.delete_rule(instance, by=Actor.of(self.request))


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    rule_id = serializers.UUIDField(source="rule.uid")
    severity = serializers.CharField(source="rule.severity")

    class Meta:
        model = AlertState
        fields = [
            "rule",
            "rule_id",
            "severity",
            "labels",
            "state",
            "active_since",
            "fired_at",
            "resolved_at",
            "changed_at",
            "last_value",
            "silenced",
            "inhibited",
        ]


@extend_schema_view(
    get=extend_schema(
        operation_id="alerts_list",
        parameters=[OpenApiParameter("state", str, enum=["pending", "firing", "resolved", "inactive"])],
    )
)
class AlertListView(generics.ListAPIView):
    """Alerts by state (default: pending and firing)."""

    required_role = roles.VIEWER
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[AlertState]:
        refuse_unstorable_query(self.request)
        wanted = self.request.query_params.get("state")
        states = [wanted] if wanted else [AlertState.PENDING, AlertState.FIRING]
        return AlertState.objects.filter(state__in=states).select_related("rule").order_by("-changed_at")


class SilenceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    # Null for a silence the system made rather than a user.
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Silence
        fields = [
            "id",
            "matchers",
            "starts_at",
            "ends_at",
            "recurrence",
            "comment",
            "created_by",
            "expired_at",
            "active",
        ]
        read_only_fields = ["expired_at"]

    def get_active(self, silence: Silence) -> bool:
        return silences.is_active(silence)

    def validate_matchers(self, value: str) -> str:
        try:
            return matchers.format_matchers(matchers.parse_matchers(value))
        except (PromQLError, ValueError) as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("recurrence"):
            try:
                attrs["recurrence"] = Recurrence.from_dict(attrs["recurrence"]).to_dict()
            except ValueError as exc:
                raise serializers.ValidationError({"recurrence": [str(exc)]}) from None
        elif not attrs.get("ends_at"):
            raise serializers.ValidationError({"ends_at": ["required unless the silence recurs"]})
        if attrs.get("ends_at") and attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["the end is before the start"]})
        return attrs


@extend_schema_view(get=extend_schema(operation_id="silences_list"), post=extend_schema(operation_id="silences_create"))
class SilenceListView(generics.ListCreateAPIView):
    required_role = roles.VIEWER
    write_role = roles.RESPONDER
    serializer_class = SilenceSerializer
    queryset = Silence.objects.select_related("created_by")

    def perform_create(self, serializer: SilenceSerializer) -> None:
        serializer.instance = silences.create_silence(serializer.validated_data, by=Actor.of(self.request))


class SilenceExpireView(APIView):
    required_role = roles.RESPONDER

    @extend_schema(request=None, responses=SilenceSerializer, operation_id="silences_expire")
    def post(self, request: Request, uid: str) -> Response:
        silence = silences.expire_silence(get_object_or_404(Silence, uid=uid), by=Actor.of(request))
        return Response(SilenceSerializer(silence).data, status=status.HTTP_200_OK)
