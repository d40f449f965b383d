"""What the REST API refuses at the door: text the database cannot keep (see ``opsboard.storable``).

DRF's CharField already refuses NUL and lone surrogates, but the rest of a body does not: keys
and values of free-form objects (a run's config, a rule's condition) reached PostgreSQL, which
failed the request with a 500, and a lone surrogate echoed in a refusal ("\\ud800" is not a valid
choice) could not even be written out. The parsers below refuse such a body with a 400 naming
where the text is; ``refuse_unstorable_query`` does the same for the query parameters a list
view filters by.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request

from opsboard.storable import storable, unstorable_at

UNSTORABLE = "holds a NUL character or a lone surrogate, which cannot be stored"


class _RefusesUnstorableText:
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)  # type: ignore[misc]
        where = unstorable_at(getattr(parsed, "data", parsed))  # multipart answers data and files
        if where is not None:
            raise ParseError(f"{where} {UNSTORABLE}")
        return parsed


class JSONParser(_RefusesUnstorableText, parsers.JSONParser):
    pass


class FormParser(_RefusesUnstorableText, parsers.FormParser):
    pass


class MultiPartParser(_RefusesUnstorableText, parsers.MultiPartParser):
    pass


def refuse_unstorable_query(request: Request) -> None:
    """ValidationError naming each query parameter that holds a NUL (a query string cannot spell
    a lone surrogate): PostgreSQL cannot compare it with a column either."""
    refused = {name: [UNSTORABLE] for name, values in request.query_params.lists() if not all(map(storable, values))}
    if refused:
        raise ValidationError(refused)
