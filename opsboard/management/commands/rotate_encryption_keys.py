"""Re-encrypt every stored secret under the newest key of OPSBOARD_ENCRYPTION_KEYS.

Rotation: generate a key, put it first in OPSBOARD_ENCRYPTION_KEYS (keep the old ones
after it), restart, run this; once it reports nothing unreadable, the old keys may go.
Plain values left from before encryption are encrypted on the way. Running it again
changes nothing (values under the newest key are left alone). One audit event records
the counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from opsboard import crypto
from opsboard.audit.services import Actor, record

OUTCOMES = ("re_encrypted", "encrypted", "current", "unreadable")


def rotate_all(*, by: Actor, batch_size: int = 500) -> dict[str, Counter[str]]:
    """Counts by column (``app.Model.field``) of what was done to its values, audited once."""
    counts = {
        f"{model._meta.label}.{field.name}": crypto.bring_current(model, field.name, batch_size=batch_size)
        for model, field in crypto.encrypted_columns()
    }
    total = sum(counts.values(), Counter())
    with transaction.atomic():
        record(
            "encryption.rotate",
            by=by,
            object_type="encryption",
            object_id=crypto.key_fingerprint(),
            object_repr="stored secrets",
            changes={"after": {"newest key": crypto.key_fingerprint(), "rows": total["rows"], **_outcomes(total)}},
        )
    return counts


def _outcomes(counts: Counter[str]) -> dict[str, int]:
    return {outcome: counts[outcome] for outcome in OUTCOMES}


def describe(counts: Counter[str]) -> str:
    return (
        f"{counts['rows']} rows: {counts['re_encrypted']} re-encrypted, {counts['encrypted']} plain encrypted, "
        f"{counts['current']} already current, {counts['unreadable']} unreadable"
    )


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the newest key of OPSBOARD_ENCRYPTION_KEYS (idempotent, audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows rewritten per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = rotate_all(by=Actor.system("rotate_encryption_keys"), batch_size=max(1, options["batch_size"]))
        for column, column_counts in counts.items():
            self.stdout.write(f"{column}: {describe(column_counts)}")
        total = sum(counts.values(), Counter())
        self.stdout.write(f"total: {describe(total)}; newest key {crypto.key_fingerprint()}")
        if total["unreadable"]:
            self.stderr.write(
                f"{total['unreadable']} values {crypto.UNREADABLE}: they were encrypted under a key that is no "
                "longer in OPSBOARD_ENCRYPTION_KEYS; add it back (after the newest) and run this again, or "
                "enter those secrets again."
            )
