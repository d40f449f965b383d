"""Sign-in pages, the Admin's Users and Tokens pages, and a user's own password page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from opsboard.accounts import lockout, roles, second_factor, security_events, services, signin
from opsboard.accounts.backends import REFUSED_ATTR
from opsboard.accounts.forms import ActiveForm, RoleForm, TokenCreateForm, UserCreateForm
from opsboard.accounts.models import ApiToken, TotpDevice, User
from opsboard.accounts.permissions import RoleRequiredMixin, role_required
from opsboard.audit.services import Actor


class LoginView(RoleRequiredMixin, auth_views.LoginView):
    """The password step. A user with a second factor goes on to the code step; a user
    name and address with too many failures get the lockout page (django-axes' middleware
    swaps it in when ``request.axes_locked_out`` is set)."""

    required_role = roles.PUBLIC
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if second_factor.is_enrolled(user):
            return signin.begin_code_step(self.request, user, self.get_success_url())
        response = super().form_valid(form)
        services.record_login(user, Actor.of(self.request))
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        request = self.request
        username = request.POST.get("username", "")
        if not getattr(request, REFUSED_ATTR, False):  # a password was checked, and was wrong
            services.record_login_failed(username, Actor.of(request))
            security_events.count(security_events.LOGIN_FAILED)
        if getattr(request, "axes_locked_out", False):
            signin.note_lockout(request, username)
        return super().form_invalid(form)


class LogoutView(RoleRequiredMixin, auth_views.LogoutView):
    required_role = roles.PUBLIC

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            services.record_logout(request.user, Actor.of(request))
        return super().post(request, *args, **kwargs)


@role_required(roles.AUTHENTICATED)
def account_password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.set_password(request.user, form.cleaned_data["new_password1"], by=Actor.of(request))
        update_session_auth_hash(request, user)
        messages.success(request, "Your password is changed.")
        return redirect("accounts:password")
    return render(request, "accounts/password.html", {"form": form}, status=400 if form.errors else 200)


@role_required(roles.ADMIN)
def users(request: HttpRequest) -> HttpResponse:
    return _users_page(request)


def _users_page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "users": _with_sign_in_state(list(User.objects.select_related("role").order_by("username"))),
        "role_choices": services.role_choices(),
        "failure_limit": lockout.failure_limit(),
        "lockout_minutes": lockout.cool_off() // timedelta(minutes=1),
        **extra,
    }
    return render(request, "accounts/users.html", context, status=status)


def _with_sign_in_state(users: list[User]) -> list[User]:
    """Mark each user with ``second_factor_on`` and ``locked_until`` (None when not locked out)."""
    enrolled = set(TotpDevice.objects.filter(confirmed_at__isnull=False).values_list("user_id", flat=True))
    locked = lockout.locked_out_until([user.username for user in users])
    for user in users:
        user.second_factor_on = user.pk in enrolled
        user.locked_until = locked.get(user.username)
    return users


@role_required(roles.ADMIN)
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = services.create_user(
            username=data["username"],
            email=data["email"],
            role=data["role"],
            password=data["password1"],
            by=Actor.of(request),
        )
        messages.success(request, f"Created {user.username}.")
        return redirect("accounts:users")
    return render(request, "accounts/user_create.html", {"form": form}, status=400 if form.errors else 200)


@role_required(roles.ADMIN)
@require_POST
def user_role(request: HttpRequest, uid: str) -> HttpResponse:
    user = get_object_or_404(User, uid=uid)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, error=f"Role for {user.username}: {form.errors['role'][0]}")
    try:
        services.change_role(user, form.cleaned_data["role"], by=Actor.of(request))
    except services.LastAdminError as exc:
        return _users_page(request, status=409, error=str(exc))
    messages.success(request, f"{user.username} is now {form.cleaned_data['role'] or 'without a role'}.")
    return redirect("accounts:users")


@role_required(roles.ADMIN)
@require_POST
def user_active(request: HttpRequest, uid: str) -> HttpResponse:
    user = get_object_or_404(User, uid=uid)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return _users_page(request, status=400, error="Say active=1 or active=0.")
    try:
        services.set_active(user, form.cleaned_data["active"], by=Actor.of(request))
    except services.LastAdminError as exc:
        return _users_page(request, status=409, error=str(exc))
    messages.success(request, f"{user.username} is {'reactivated' if form.cleaned_data['active'] else 'deactivated'}.")
    return redirect("accounts:users")


@role_required(roles.ADMIN)
@require_POST
def user_password_reset(request: HttpRequest, uid: str) -> HttpResponse:
    user = get_object_or_404(User, uid=uid)
    password = services.generate_password()
    services.set_password(user, password, by=Actor.of(request))
    return render(
        request, "accounts/shown_once.html", {"what": f"New password for {user.username}", "secret": password}
    )


@role_required(roles.ADMIN)
@require_POST
def user_unlock(request: HttpRequest, uid: str) -> HttpResponse:
    user = get_object_or_404(User, uid=uid)
    services.unlock_user(user, by=Actor.of(request))
    messages.success(request, f"{user.username} may sign in again from every address.")
    return redirect("accounts:users")


@role_required(roles.ADMIN)
@require_POST
def user_second_factor_reset(request: HttpRequest, uid: str) -> HttpResponse:
    user = get_object_or_404(User, uid=uid)
    try:
        second_factor.reset(user, by=Actor.of(request))
    except second_factor.SecondFactorError as exc:
        return _users_page(request, status=409, error=str(exc))
    messages.success(
        request, f"{user.username}'s second factor is removed: until they set up a new one, a password is enough."
    )
    return redirect("accounts:users")


@role_required(roles.ADMIN)
def tokens(request: HttpRequest) -> HttpResponse:
    return _tokens_page(request, TokenCreateForm())


def _tokens_page(request: HttpRequest, form: TokenCreateForm, status: int = 200) -> HttpResponse:
    listing = ApiToken.objects.select_related("user", "created_by")
    return render(request, "accounts/tokens.html", {"tokens": listing, "form": form}, status=status)


@role_required(roles.ADMIN)
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    data = form.cleaned_data
    token, secret = services.create_token(
        user=data["user"], name=data["name"], scopes=data["scopes"], by=Actor.of(request)
    )
    what = f"API token {token.name} for {token.user.username} ({', '.join(token.scopes)})"
    return render(request, "accounts/shown_once.html", {"what": what, "secret": secret}, status=201)


@role_required(roles.ADMIN)
@require_POST
def token_revoke(request: HttpRequest, uid: str) -> HttpResponseRedirect:
    token = get_object_or_404(ApiToken, uid=uid)
    services.revoke_token(token, by=Actor.of(request))
    messages.success(request, f"Revoked {token.name}.")
    return redirect("accounts:tokens")
