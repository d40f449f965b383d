from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "opsboard.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from opsboard.accounts import schema  # noqa: F401  (registers the OpenAPI auth scheme)
