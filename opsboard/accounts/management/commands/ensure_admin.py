"""Create the first Admin on first run and print its password once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from opsboard.accounts.services import ensure_first_admin


class Command(BaseCommand):
    help = "Create the first Admin when none exists (password from OPSBOARD_ADMIN_PASSWORD, or generated)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = ensure_first_admin()
        if created is None:
            self.stdout.write("An Admin exists already; nothing to do.")
            return
        user, password = created
        self.stdout.write(self.style.SUCCESS("Created the first Admin. Sign in at /login/ with:"))
        self.stdout.write(f"    user:     {user.username}")
        self.stdout.write(f"    password: {password}")
        self.stdout.write("This password is not shown again; change it under Account once signed in.")
