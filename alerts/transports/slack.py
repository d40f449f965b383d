"""Slack through an incoming webhook: a header, the summary and labels, and Acknowledge and
Resolve link buttons (see ``alerts.messages.slack_payload``).

Slack answers 200 ``ok``; its errors (400 ``invalid_payload``, 403, 404 ``channel_not_found``,
410 ``channel_is_archived``) are not retried, 429 and 5xx are. Any Slack-compatible
receiver (Mattermost, Rocket.Chat) works the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from alerts.messages import Message, slack_payload
from alerts.transports.base import Delivery, Transport, check_http_url, post
from alerts.transports.webhook import MAX_ANSWER_BYTES, TIMEOUT_S, encode
from monitoring.collectors.base import config_from_dict


@dataclass(frozen=True)
class SlackConfig:
    """``webhook_url`` is a secret: whoever has it can post to the channel."""

    webhook_url: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlackConfig:
        config = config_from_dict(cls, data)
        return replace(config, webhook_url=check_http_url("webhook_url", config.webhook_url))


class SlackTransport(Transport):
    kind = "slack"
    Config = SlackConfig
    timeout_s: ClassVar[float] = TIMEOUT_S

    def notify(self, message: Message, config: SlackConfig) -> Delivery:
        headers = {"Content-Type": "application/json", "X-Opsboard-Delivery": message.delivery_id}
        body = encode(slack_payload(message))
        return post(config.webhook_url, body, headers, timeout_s=self.timeout_s, max_bytes=MAX_ANSWER_BYTES)
