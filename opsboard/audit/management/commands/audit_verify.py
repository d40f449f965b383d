"""Walk the audit log's hash chain and name the first event that does not verify."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from opsboard.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit 1 naming the first event that does not verify."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = verify_chain()
        if broken is not None:
            raise CommandError(
                f"audit event #{broken.event.pk} ({broken.event.time.isoformat()}, {broken.event.action}) "
                f"does not verify: {broken.reason}; {checked} events before it verified"
            )
        self.stdout.write(f"audit chain verified: {checked} events")
