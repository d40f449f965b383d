"""Every change to users and API tokens goes through these functions.

Each runs in one transaction, locks what it changes, and writes its audit event in the
same transaction.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opsboard.accounts import lockout, roles, tokens
from opsboard.accounts.models import ApiToken, Role, User
from opsboard.audit.services import Actor, diff, record, snapshot

USER_AUDIT_FIELDS = ["username", "email", "role", "is_active"]
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)


class LastAdminError(Exception):
    """The change would leave no active Admin, locking everyone out of user management."""


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(*, username: str, email: str, role: str | None, password: str, by: Actor) -> User:
    with transaction.atomic():
        user = User(username=username, email=email, role_id=role)
        user.set_password(password)
        user.save(force_insert=True)
        record("user.create", by=by, obj=user, changes=diff(None, snapshot(user, USER_AUDIT_FIELDS)))
    return user


def change_role(user: User, role: str | None, *, by: Actor) -> User:
    """Give ``user`` another role (None: no role). Refused if it demotes the last Admin."""
    if role is not None and role not in roles.RANKS:
        raise ValueError(f"unknown role {role!r}")
    with transaction.atomic():
        user = _lock_user(user, keep_admin=role == roles.ADMIN)
        before = snapshot(user, USER_AUDIT_FIELDS)
        user.role_id = role
        user.save(update_fields=["role"])
        record("user.role_change", by=by, obj=user, changes=diff(before, snapshot(user, USER_AUDIT_FIELDS)))
    return user


def set_active(user: User, active: bool, *, by: Actor) -> User:
    """Deactivate or reactivate. Refused if it deactivates the last active Admin."""
    with transaction.atomic():
        user = _lock_user(user, keep_admin=active)
        before = snapshot(user, USER_AUDIT_FIELDS)
        user.is_active = active
        user.save(update_fields=["is_active"])
        action = "user.reactivate" if active else "user.deactivate"
        record(action, by=by, obj=user, changes=diff(before, snapshot(user, USER_AUDIT_FIELDS)))
    return user


def set_password(user: User, password: str, *, by: Actor) -> User:
    """Set a new password (validated by the caller's form). The value is never recorded."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        action = "user.password_change" if by.user == user else "user.password_reset"
        record(action, by=by, obj=user)
    return user


def _lock_user(user: User, *, keep_admin: bool) -> User:
    """Lock the active Admins (in id order, so no two callers deadlock) and the user."""
    admins = list(User.objects.select_for_update().filter(role_id=roles.ADMIN, is_active=True).order_by("pk"))
    locked = User.objects.select_for_update().get(pk=user.pk)
    demoting_an_admin = locked.role_id == roles.ADMIN and locked.is_active and not keep_admin
    if demoting_an_admin and all(admin.pk == locked.pk for admin in admins):
        raise LastAdminError(f"{locked.username} is the last active Admin; make someone else an Admin first")
    return locked


def create_token(*, user: User, name: str, scopes: list[str], by: Actor) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and not shown again."""
    unknown = sorted(set(scopes) - set(ApiToken.SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(ApiToken.SCOPES)}; got {unknown or 'none'}")
    secret, prefix, digest = tokens.generate()
    ordered = [scope for scope in ApiToken.SCOPES if scope in scopes]
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, scopes=ordered, prefix=prefix, digest=digest, created_by=by.user
        )
        after = {"name": name, "user": user.username, "scopes": ordered, "prefix": prefix}
        record("token.create", by=by, obj=token, changes=diff(None, after))
    return token, secret


def revoke_token(token: ApiToken, *, by: Actor) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("token.revoke", by=by, obj=token)
    return token


def token_for_secret(secret: str) -> ApiToken | None:
    """The active token with this secret, with its user loaded; None if unknown or revoked."""
    return ApiToken.objects.active().select_related("user").filter(digest=tokens.digest_of(secret)).first()


def touch_token(token: ApiToken) -> None:
    """Record the token's use, at most once a minute, so busy tokens do not write per request."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def record_login(user: User, actor: Actor, *, second_factor: str | None = None) -> None:
    """A completed sign-in; ``second_factor`` names the code that completed it, if any."""
    changes = {"second_factor": second_factor} if second_factor else None
    record("auth.login", by=actor, obj=user, changes=changes)


def record_login_failed(username: str, actor: Actor) -> None:
    record("auth.login_failed", by=actor, object_type="user", object_repr=username[:150])


def record_lockout(username: str, actor: Actor) -> None:
    """A sign-in answered with the lockout page: the failure that reached the limit, or a
    sign-in tried during the cool-off (whose password is not checked)."""
    changes = {"failure_limit": lockout.failure_limit(), "cool_off_minutes": lockout.cool_off() // timedelta(minutes=1)}
    record("auth.lockout", by=actor, object_type="user", object_repr=username[:150], changes=changes)


def unlock_user(user: User, *, by: Actor) -> int:
    """Forget the user's failed sign-ins from every address, ending any lockout; audited even
    when there was nothing to forget, so the log shows that an Admin looked."""
    with transaction.atomic():
        cleared = lockout.forget_failures(user.username)
        record("auth.unlock", by=by, obj=user, changes={"failure_records_cleared": cleared})
    return cleared


def record_logout(user: User, actor: Actor) -> None:
    record("auth.logout", by=actor, obj=user)


def ensure_first_admin() -> tuple[User, str] | None:
    """Create the first Admin when there is none; returns the user and the password to show once.

    The password is ``OPSBOARD_ADMIN_PASSWORD`` when set, else generated.
    """
    with transaction.atomic():
        if User.objects.select_for_update().filter(role_id=roles.ADMIN).exists():
            return None
        password = settings.OPSBOARD_ADMIN_PASSWORD or generate_password()
        user = create_user(
            username=settings.OPSBOARD_ADMIN_USER,
            email="",
            role=roles.ADMIN,
            password=password,
            by=Actor.system("setup"),
        )
    return user, password


def role_choices() -> list[Role]:
    """The roles in rank order, for forms."""
    return sorted(Role.objects.all(), key=lambda role: role.rank)
