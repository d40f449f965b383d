"""Helpers for fuzzing through HTTP: one savepoint per example, and the checks on every answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.http import HttpResponse

from monitoring import store


@contextmanager
def rolled_back() -> Iterator[None]:
    """One Hypothesis example inside a savepoint rolled back afterwards, so that examples start
    from the same rows and a database error in one cannot spoil the next."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)
        store.forget_cached_series()


def assert_refused_with_message(response: HttpResponse, key: str = "error") -> None:
    """A 4xx whose JSON body names the problem (never a 5xx, never an empty refusal)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body, dict) and body.get(key), body
