"""The audit log over the REST API (Admin, read scope)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination

from opsboard.accounts import roles
from opsboard.audit.filters import AuditFilterForm
from opsboard.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "time",
            "actor",
            "actor_ip",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "prev_hash",
            "hash",
        ]


class AuditPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


FILTER_PARAMETERS = [
    OpenApiParameter("actor", str, description="username, or system:<process>"),
    OpenApiParameter("action", str, description="e.g. user.role_change"),
    OpenApiParameter("object_type", str, description="e.g. user, apitoken"),
    OpenApiParameter("since", str, description="ISO 8601 time"),
    OpenApiParameter("until", str, description="ISO 8601 time"),
]


@extend_schema_view(get=extend_schema(parameters=FILTER_PARAMETERS, operation_id="audit_events"))
class AuditEventListView(ListAPIView):
    required_role = roles.ADMIN
    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        form = AuditFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        return form.apply(AuditEvent.objects.all())
