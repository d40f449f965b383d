"""REST endpoints for targets: /api/v1/models and /api/v1/nodes (Viewer reads, Editor writes)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from monitoring.models import GpuNode, ModelEndpoint, Target
from monitoring.targets import create_target, delete_target, editable_fields, masked_headers, merge_headers, validate
from monitoring.targets import update_target as update_target_service
from opsboard.accounts import roles
from opsboard.audit.services import Actor

STATUS_FIELDS = ["state", "last_poll_at", "last_duration_s", "last_sample_count", "last_error"]


class TargetSerializer(serializers.ModelSerializer):
    """Headers are write-only secrets: answers show their names with masked values."""

    id = serializers.UUIDField(source="uid", read_only=True)
    state = serializers.CharField(read_only=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    config = serializers.DictField(required=False)

    def to_representation(self, instance: Target) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["headers"] = masked_headers(instance.headers)
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = self.Meta.model
        current = {name: getattr(self.instance, name) for name in editable_fields(model)} if self.instance else {}
        if self.instance and "headers" in attrs:
            attrs["headers"] = merge_headers(self.instance.headers, attrs["headers"])
        errors = validate(model, {**_defaults(model), **current, **attrs})
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _defaults(model: type[Target]) -> dict[str, Any]:
    return {f.name: f.get_default() for f in model._meta.concrete_fields if f.name in editable_fields(model)}


class ModelEndpointSerializer(TargetSerializer):
    class Meta:
        model = ModelEndpoint
        fields = ["id", *editable_fields(ModelEndpoint), *STATUS_FIELDS]
        read_only_fields = STATUS_FIELDS


class GpuNodeSerializer(TargetSerializer):
    class Meta:
        model = GpuNode
        fields = ["id", *editable_fields(GpuNode), *STATUS_FIELDS]
        read_only_fields = STATUS_FIELDS


class TargetAccess:
    required_role = roles.VIEWER
    write_role = roles.EDITOR
    lookup_field = "uid"
    lookup_url_kwarg = "uid"

    def get_queryset(self) -> QuerySet[Target]:
        return self.serializer_class.Meta.model.objects.all()


class TargetListView(TargetAccess, generics.ListCreateAPIView):
    def perform_create(self, serializer: TargetSerializer) -> None:
        model = serializer.Meta.model
        serializer.instance = create_target(model, serializer.validated_data, by=Actor.of(self.request))

    def get_success_headers(self, data: Any) -> dict[str, str]:
        """No Location: DRF takes it from a ``url`` field, which here is the target's scrape URL
        (any text for a local node, and a newline in it failed the answer with a 500)."""
        return {}


class TargetDetailView(TargetAccess, generics.RetrieveUpdateDestroyAPIView):
    def perform_update(self, serializer: TargetSerializer) -> None:
        serializer.instance = update_target_service(
            serializer.instance, serializer.validated_data, by=Actor.of(self.request)
        )

    def perform_destroy(self, instance: Target) -> None:
        delete_target(instance, by=Actor.of(self.request))


def _views(serializer: type[TargetSerializer], tag: str) -> tuple[type, type]:
    listing = extend_schema_view(
        get=extend_schema(operation_id=f"{tag}_list", tags=[tag]),
        post=extend_schema(operation_id=f"{tag}_create", tags=[tag]),
    )(type(f"{serializer.Meta.model.__name__}ListView", (TargetListView,), {"serializer_class": serializer}))
    detail = extend_schema_view(
        get=extend_schema(operation_id=f"{tag}_retrieve", tags=[tag]),
        put=extend_schema(operation_id=f"{tag}_update", tags=[tag]),
        patch=extend_schema(operation_id=f"{tag}_partial_update", tags=[tag]),
        delete=extend_schema(operation_id=f"{tag}_destroy", tags=[tag]),
    )(type(f"{serializer.Meta.model.__name__}DetailView", (TargetDetailView,), {"serializer_class": serializer}))
    return listing, detail


ModelEndpointListView, ModelEndpointDetailView = _views(ModelEndpointSerializer, "models")
GpuNodeListView, GpuNodeDetailView = _views(GpuNodeSerializer, "nodes")
