"""REST endpoints for the caller's identity and for API tokens (Admin)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opsboard.accounts import roles, services
from opsboard.accounts.models import ApiToken, User
from opsboard.audit.services import Actor


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    token_scopes = serializers.ListField(child=serializers.CharField(), allow_null=True)


class MeView(APIView):
    """Who the caller is: for checking a token before using it."""

    required_role = roles.AUTHENTICATED

    @extend_schema(responses=MeSerializer, operation_id="me")
    def get(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        body = {
            "username": request.user.username,
            "role": request.user.role_id,
            "token_scopes": token.scopes if token else None,
        }
        return Response(MeSerializer(body).data)


class TokenSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uid", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiToken.SCOPES), min_length=1)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "scopes", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]


class CreatedTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown only in this answer.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenListView(APIView):
    required_role = roles.ADMIN

    @extend_schema(responses=TokenSerializer(many=True), operation_id="tokens_list")
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.select_related("user")
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(request=TokenSerializer, responses={201: CreatedTokenSerializer}, operation_id="tokens_create")
    def post(self, request: Request) -> Response:
        incoming = TokenSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data: dict[str, Any] = incoming.validated_data
        token, secret = services.create_token(
            user=data["user"], name=data["name"], scopes=data["scopes"], by=Actor.of(request)
        )
        token.token = secret
        return Response(CreatedTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenRevokeView(APIView):
    required_role = roles.ADMIN

    @extend_schema(request=None, responses=TokenSerializer, operation_id="tokens_revoke")
    def post(self, request: Request, uid: str) -> Response:
        token = get_object_or_404(ApiToken, uid=uid)
        return Response(TokenSerializer(services.revoke_token(token, by=Actor.of(request))).data)
