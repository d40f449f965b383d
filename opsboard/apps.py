from django.apps import AppConfig


class OpsboardConfig(AppConfig):
    """The project package as an app: system checks, health, shared templates."""

    name = "opsboard"
    verbose_name = "Opsboard"

    def ready(self) -> None:
        from opsboard import checks  # noqa: F401  (registers the system checks)
