"""``manage.py opsboard_restore FILE [--force]``: see opsboard/backup.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsboard.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Load a backup written by opsboard_backup into this database (migrated to the same state), "
        "in one transaction; refuses a database that holds data unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A backup written by opsboard_backup.")
        parser.add_argument(
            "--force", action="store_true", help="Replace the data of the backup's tables if the database has some."
        )

    def handle(self, *args: Any, file: Path, force: bool, **options: Any) -> None:
        try:
            counts = restore(file, force=force)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for label, rows in counts.items():
            if options["verbosity"] > 1:
                self.stdout.write(f"  {label}: {rows}")
        self.stdout.write(
            f"Restored {sum(counts.values())} rows of {len(counts)} tables from {file}; the audit chain verifies. "
            "Restart Opsboard's processes so that none works from what it remembered of the old data."
        )
