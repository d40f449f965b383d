"""The live WebSocket over the real Redis channel layer: who may connect, what reaches whom."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from monitoring import live, store
from monitoring.samples import sample
from opsboard.asgi import application
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)
NOW = int(time.time() * 1000)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def communicator(cookie: bytes | None = None, origin: bytes | None = b"http://localhost") -> WebsocketCommunicator:
    headers = []
    if origin:
        headers.append((b"origin", origin))
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/live", headers=headers)


async def connect_as(role: str | None) -> WebsocketCommunicator:
    user = await sync_to_async(make_user)(f"u-{role}", role)
    socket = communicator(await sync_to_async(session_cookie)(user))
    connected, _ = await socket.connect()
    assert connected
    return socket


async def write(*samples) -> None:
    live.forget_watched_cache()
    await sync_to_async(store.write)(list(samples))


async def refusal_code(socket: WebsocketCommunicator) -> int | None:
    """A refused socket is accepted, then closed at once with the reason as its code (a
    handshake refused outright reaches browsers as 1006, whatever the reason)."""
    connected, _ = await socket.connect()
    assert connected
    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message.get("code")


async def test_anonymous_is_refused_with_4401() -> None:
    assert await refusal_code(communicator()) == 4401


async def test_a_user_without_role_is_refused_with_4403() -> None:
    user = await sync_to_async(make_user)("nobody", None)
    assert await refusal_code(communicator(await sync_to_async(session_cookie)(user))) == 4403


async def test_a_connection_without_origin_is_refused() -> None:
    user = await sync_to_async(make_user)("v", "viewer")
    socket = communicator(await sync_to_async(session_cookie)(user), origin=None)
    connected, _ = await socket.connect()
    assert not connected


async def test_points_reach_the_selectors_that_match_them() -> None:
    socket = await connect_as("viewer")
    await socket.send_json_to({"type": "subscribe", "selectors": ['gpu_temp{gpu="0"}', "loss"]})
    assert await socket.receive_json_from() == {"type": "subscribed", "selectors": ['gpu_temp{gpu="0"}', "loss"]}
    await write(sample("gpu_temp", {"gpu": "0"}, NOW, 71.0), sample("gpu_temp", {"gpu": "1"}, NOW, 50.0))
    message = await socket.receive_json_from(timeout=5)
    assert message == {
        "type": "points",
        "selector": 'gpu_temp{gpu="0"}',
        "series": [{"labels": {"__name__": "gpu_temp", "gpu": "0"}, "points": [[NOW, 71.0]]}],
    }
    await write(sample("loss", {}, NOW, math.nan), sample("loss", {}, NOW + 1, 0.5))
    message = await socket.receive_json_from(timeout=5)
    assert message["series"][0]["points"] == [[NOW, None], [NOW + 1, 0.5]]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_a_bad_selector_is_an_error_message() -> None:
    socket = await connect_as("viewer")
    await socket.send_json_to({"type": "subscribe", "selectors": ["rate(x[5m])"]})
    assert (await socket.receive_json_from())["type"] == "error"
    await socket.send_json_to({"type": "subscribe", "selectors": ['{job="a"}']})
    assert "need a metric name" in (await socket.receive_json_from())["message"]
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.disconnect()


async def test_an_idle_socket_still_receives_after_seven_seconds() -> None:
    """redis-py 8 reads with a 5 s timeout by default; channels-redis blocks on Redis for 5 s."""
    socket = await connect_as("viewer")
    await socket.send_json_to({"type": "subscribe", "selectors": ["idle_metric"]})
    await socket.receive_json_from()
    await asyncio.sleep(7)
    await write(sample("idle_metric", {}, NOW, 1.0))
    message = await socket.receive_json_from(timeout=5)
    assert message["series"][0]["points"] == [[NOW, 1.0]]
    await socket.disconnect()
