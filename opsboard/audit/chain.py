"""The audit log's hash chain. Framework-free, so that a verifier needs only this file.

Each event's hash covers every recorded field and the hash of the event before it, so
changing, removing or reordering any event breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical form of ``fields`` plus the previous event's hash."""
    payload = {key: _normalise(value) for key, value in fields.items()}
    payload["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value
