from django.urls import path

from opsboard.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/password/", views.account_password, name="password"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<uuid:uid>/role/", views.user_role, name="user_role"),
    path("users/<uuid:uid>/active/", views.user_active, name="user_active"),
    path("users/<uuid:uid>/password/", views.user_password_reset, name="user_password_reset"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<uuid:uid>/revoke/", views.token_revoke, name="token_revoke"),
]
