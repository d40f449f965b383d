"""Install the default rule pack on first run (`make run` calls it each time; it acts once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.default_rules import install


class Command(BaseCommand):
    help = "Create the default alert rules, once."

    def handle(self, *args: Any, **options: Any) -> None:
        created = install()
        self.stdout.write(f"Installed {created} default alert rules." if created else "Default rules installed before.")
