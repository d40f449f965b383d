"""What the chart pages hand their script: panels, the default range, overlays."""

from __future__ import annotations

from typing import Any

from monitoring.dashboards import Panel

RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"]


def chart_context(panels: list[Panel], *, default_range: str = "1h", **extra: Any) -> dict[str, Any]:
    """Template context for ``monitoring/_charts.html``; ``extra`` goes to the script as is."""
    return {
        "panels": panels,
        "ranges": RANGES,
        "charts": {"panels": [p.to_json() for p in panels if not p.missing], "defaultRange": default_range, **extra},
    }
