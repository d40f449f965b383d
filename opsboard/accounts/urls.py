from django.urls import path

from opsboard.accounts import second_factor_views, views

app_name = "accounts"

urlpatterns = [
    path("login/code/", second_factor_views.login_code, name="login_code"),
    path("account/password/", views.account_password, name="password"),
    path("account/second-factor/", second_factor_views.account_second_factor, name="second_factor"),
    path("account/second-factor/start/", second_factor_views.second_factor_start, name="second_factor_start"),
    path("account/second-factor/confirm/", second_factor_views.second_factor_confirm, name="second_factor_confirm"),
    path("account/second-factor/disable/", second_factor_views.second_factor_disable, name="second_factor_disable"),
    path(
        "account/second-factor/recovery-codes/",
        second_factor_views.second_factor_recovery_codes,
        name="second_factor_recovery_codes",
    ),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<uuid:uid>/role/", views.user_role, name="user_role"),
    path("users/<uuid:uid>/active/", views.user_active, name="user_active"),
    path("users/<uuid:uid>/password/", views.user_password_reset, name="user_password_reset"),
    path("users/<uuid:uid>/unlock/", views.user_unlock, name="user_unlock"),
    path("users/<uuid:uid>/second-factor/reset/", views.user_second_factor_reset, name="user_second_factor_reset"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<uuid:uid>/revoke/", views.token_revoke, name="token_revoke"),
]
