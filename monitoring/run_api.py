"""/api/v1/runs: the SDK starts and finishes runs (ingest scope); anyone may read them."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.models import TrainingRun
from monitoring.runs import finish_run, start_run
from opsboard.accounts import roles
from opsboard.api_input import refuse_unstorable_query
from opsboard.audit.services import Actor


class RunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    name = serializers.CharField(max_length=200)
    project = serializers.CharField(max_length=200)
    config = serializers.DictField(required=False, default=dict)

    class Meta:
        model = TrainingRun
        fields = ["id", "name", "project", "config", "status", "started_at", "ended_at", "last_step", "last_seen_at"]
        read_only_fields = ["status", "started_at", "ended_at", "last_step", "last_seen_at"]


class RunAccess:
    required_role = roles.VIEWER
    write_role = roles.VIEWER
    write_scope = "ingest"


@extend_schema_view(
    get=extend_schema(
        operation_id="runs_list",
        parameters=[
            OpenApiParameter("project", str),
            OpenApiParameter("status", str, enum=["running", "finished", "failed", "stalled"]),
        ],
    ),
    post=extend_schema(operation_id="runs_start"),
)
class RunListView(RunAccess, generics.ListCreateAPIView):
    serializer_class = RunSerializer

    def get_queryset(self) -> QuerySet[TrainingRun]:
        refuse_unstorable_query(self.request)
        runs = TrainingRun.objects.all()
        for field in ("project", "status"):
            if self.request.query_params.get(field):
                runs = runs.filter(**{field: self.request.query_params[field]})
        return runs

    def perform_create(self, serializer: RunSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = start_run(
            name=data["name"], project=data["project"], config=data.get("config") or {}, by=Actor.of(self.request)
        )


@extend_schema_view(get=extend_schema(operation_id="runs_retrieve"))
class RunDetailView(RunAccess, generics.RetrieveAPIView):
    serializer_class = RunSerializer
    lookup_field = "uid"
    queryset = TrainingRun.objects.all()


class RunFinishView(RunAccess, APIView):
    @extend_schema(
        operation_id="runs_finish",
        request=inline_serializer("RunFinish", {"status": serializers.ChoiceField(["finished", "failed"])}),
        responses=RunSerializer,
    )
    def post(self, request: Request, uid: str) -> Response:
        run = get_object_or_404(TrainingRun, uid=uid)
        outcome = request.data.get("status", "finished") if isinstance(request.data, dict) else None
        if outcome not in (TrainingRun.FINISHED, TrainingRun.FAILED):
            return Response({"status": ['must be "finished" or "failed"']}, status=status.HTTP_400_BAD_REQUEST)
        return Response(RunSerializer(finish_run(run, outcome, by=Actor.of(request))).data)
