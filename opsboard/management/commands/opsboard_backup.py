"""``manage.py opsboard_backup FILE [--samples-days N]``: see opsboard/backup.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsboard.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Write Opsboard's configuration, users, tokens, incidents and audit log (and with --samples-days "
        "the recent series) to one gzipped file; secrets stay encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The backup to write, e.g. opsboard-2030-01-07.jsonl.gz")
        parser.add_argument("--samples-days", type=int, default=None, help="Also the samples of the last N days.")

    def handle(self, *args: Any, file: Path, samples_days: int | None, **options: Any) -> None:
        if samples_days is not None and samples_days < 1:
            raise CommandError("--samples-days must be at least 1")
        if file.exists():
            raise CommandError(f"{file} exists; choose another name or remove it first")
        try:
            counts = backup(file, samples_days=samples_days)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for label, rows in counts.items():
            if options["verbosity"] > 1:
                self.stdout.write(f"  {label}: {rows}")
        self.stdout.write(f"Backed up {sum(counts.values())} rows of {len(counts)} tables to {file}")
