"""Users, their roles, and API tokens."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from opsboard.accounts import roles
from opsboard.crypto import EncryptedTextField


class Role(models.Model):
    """One of the four roles; the rows are created by a data migration.

    The slug is the primary key, so ``user.role_id`` names the role without a query.
    """

    slug = models.SlugField(primary_key=True, max_length=20)
    name = models.CharField(max_length=40, unique=True)
    description = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name

    @property
    def rank(self) -> int:
        return roles.rank_of(self.slug)


class User(AbstractUser):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.PROTECT, related_name="users")

    class Meta:
        ordering = ["username"]


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the token is shown once.

    A token acts as its user, narrowed to its scopes: it never exceeds the user's role.
    """

    SCOPES = ("ingest", "read", "write")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes


class TotpDevice(models.Model):
    """A user's authenticator app: the TOTP secret they scanned, once confirmed with a code.

    The secret is encrypted at rest (``opsboard.crypto``) and shown only while enrolment is
    unconfirmed; after that no page, API or audit event shows it. ``last_used_step`` is the
    newest 30-second step whose code was accepted: no code of that step or an earlier one is
    accepted again, so a code cannot be replayed.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=-1)

    def __str__(self) -> str:
        return f"authenticator of {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """A single-use code that stands in for the authenticator app; only its SHA-256 digest is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="recovery_code_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
