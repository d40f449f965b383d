"""Shared set-up for benchmarks: Django on a scratch database that is dropped afterwards."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsboard.settings")
    import django

    django.setup()


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database beside the configured one (``opsboard_bench_<pid>``); dropped at exit."""
    from django.db import connection

    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = f"opsboard_bench_{os.getpid()}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def figure(name: str, value: float, digits: int = 3) -> None:
    """Print one figure as `name = value`, the form every benchmark uses."""
    print(f"{name} = {value:.{digits}f}" if isinstance(value, float) else f"{name} = {value}", flush=True)
