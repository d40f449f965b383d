"""Install the default rule pack on first run, and make sure a default escalation policy
exists (`make run` calls it each time; each part acts once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.default_rules import install
from alerts.policies import ensure_default_policy


class Command(BaseCommand):
    help = "Create the default alert rules once, and the default escalation policy when none is."

    def handle(self, *args: Any, **options: Any) -> None:
        policy = ensure_default_policy()
        self.stdout.write(f"Default escalation policy: {policy.name} ({policy.steps.count()} steps).")
        created = install()
        self.stdout.write(f"Installed {created} default alert rules." if created else "Default rules installed before.")
