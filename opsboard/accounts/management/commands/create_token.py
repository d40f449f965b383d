"""Create an API token from the command line; the token is printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsboard.accounts.models import ApiToken, User
from opsboard.accounts.services import create_token
from opsboard.audit.services import Actor


class Command(BaseCommand):
    help = "Create an API token for a user; prints the token once (only its digest is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="username the token acts as")
        parser.add_argument("--scopes", required=True, help=f"comma-separated, of: {', '.join(ApiToken.SCOPES)}")
        parser.add_argument("--name", default="", help="a name to recognise the token by")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["user"], is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user named {options['user']!r}") from None
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        name = options["name"] or f"{user.username} ({','.join(scopes)})"
        try:
            token, secret = create_token(user=user, name=name, scopes=scopes, by=Actor.system("create_token"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Created token {token.name!r} with scopes {', '.join(token.scopes)}; it is not shown again:")
        self.stdout.write(secret)
