from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "opsboard.accounts"
    label = "accounts"
    verbose_name = "Accounts"
