"""Hypothesis settings for the fuzz suite: ``ci`` (the default) is bounded and repeatable;
``OPSBOARD_FUZZ_PROFILE=fuzz`` runs twenty times as many examples, randomly, for a local hunt.

The profiles are registered under their own names and applied per test, never loaded
globally, so the rest of the suite keeps Hypothesis's own defaults (and its built-in ``ci``
profile on CI).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {"ci": "opsboard-fuzz-ci", "fuzz": "opsboard-fuzz"}
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]

settings.register_profile(
    PROFILES["ci"], max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=_SLOW_OK
)
settings.register_profile(PROFILES["fuzz"], max_examples=2000, deadline=None, suppress_health_check=_SLOW_OK)


def active_profile() -> str:
    name = os.environ.get("OPSBOARD_FUZZ_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"OPSBOARD_FUZZ_PROFILE must be one of {', '.join(PROFILES)}, not {name!r}")
    return PROFILES[name]


def fuzz(share: float = 1.0) -> settings:
    """The active profile with ``share`` of its examples (HTTP tests run fewer than pure parsers)."""
    profile = settings.get_profile(active_profile())
    return settings(profile, max_examples=max(1, round(profile.max_examples * share)))
