"""The live WebSocket: a page subscribes with selectors and receives their new points.

Protocol (JSON messages):

- page → ``{"type": "subscribe", "selectors": ["up{job=\\"a\\"}", ...]}`` replaces the set;
  answered ``{"type": "subscribed", "selectors": [...]}`` or ``{"type": "error", "message": ...}``;
- server → ``{"type": "points", "selector": s, "series": [{"labels": {...}, "points": [[ts_ms, v], ...]}]}``
  once per store write and matching selector (``v`` null for NaN and ±Inf);
- page → ``{"type": "ping"}`` every 30 s, answered ``{"type": "pong"}``; it also keeps the
  page's metric names watched.

Closed with 4401 when not signed in, 4403 when the role is too low.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from monitoring import live
from monitoring.promql import PromQLError, Selector, parse_selector
from opsboard import metrics
from opsboard.accounts import roles
from opsboard.accounts.consumers import RoleRequiredConsumer

MAX_SELECTORS = 100


class LiveConsumer(RoleRequiredConsumer):
    required_role = roles.VIEWER

    async def on_connected(self) -> None:
        self.selectors: dict[str, Selector] = {}
        self.groups: set[str] = set()
        await metrics.socket_seen("live", self.channel_name)

    async def disconnect(self, code: int) -> None:
        await metrics.socket_gone("live", self.channel_name)
        for group in getattr(self, "groups", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "subscribe":
            await self.subscribe(content.get("selectors"))
        elif kind == "ping":
            await metrics.socket_seen("live", self.channel_name)
            await database_sync_to_async(live.watch)(self.metric_names())
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": f"unknown message type {kind!r}"})

    async def subscribe(self, raw: Any) -> None:
        if not isinstance(raw, list) or len(raw) > MAX_SELECTORS or not all(isinstance(s, str) for s in raw):
            await self.send_json(
                {"type": "error", "message": f"selectors must be a list of at most {MAX_SELECTORS} strings"}
            )
            return
        try:
            parsed = {text: _live_selector(text) for text in raw}
        except (PromQLError, ValueError) as exc:
            await self.send_json({"type": "error", "message": str(exc)})
            return
        self.selectors = parsed
        await self._join({live.group_for(name) for name in self.metric_names()})
        await database_sync_to_async(live.watch)(self.metric_names())
        await self.send_json({"type": "subscribed", "selectors": list(parsed)})

    def metric_names(self) -> set[str]:
        return {selector.metric for selector in self.selectors.values() if selector.metric}

    async def _join(self, wanted: set[str]) -> None:
        for group in wanted - self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups = wanted

    async def series_points(self, message: dict[str, Any]) -> None:
        """A store write's new points of one metric name: forward what each selector matches."""
        name = message["name"]
        for text, selector in self.selectors.items():
            matched = [s for s in message["series"] if selector.matches(name, s["labels"])]
            if matched:
                series = [{"labels": {"__name__": name, **s["labels"]}, "points": s["points"]} for s in matched]
                await self.send_json({"type": "points", "selector": text, "series": series})


def _live_selector(text: str) -> Selector:
    selector = parse_selector(text)
    if selector.metric is None:
        raise ValueError(f"{text!r}: live updates need a metric name in the selector")
    return selector
