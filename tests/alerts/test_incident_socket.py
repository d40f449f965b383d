"""/ws/incidents over the real Redis channel layer: the open count on connect, and a
message on every change once its transaction commits."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from alerts import incidents
from opsboard.asgi import application
from opsboard.audit.services import Actor
from tests.alerts.incident_kit import fire, make_rule
from tests.conftest import make_user
from tests.monitoring.test_live import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(role: str | None) -> tuple[WebsocketCommunicator, bool, int | None]:
    user = await sync_to_async(make_user)(f"u-{role}", role)
    headers = [(b"origin", b"http://localhost"), (b"cookie", await sync_to_async(session_cookie)(user))]
    socket = WebsocketCommunicator(application, "/ws/incidents", headers=headers)
    connected, code = await socket.connect()
    return socket, connected, code


async def test_a_viewer_hears_the_open_count_and_every_change() -> None:
    socket, connected, _ = await connect("viewer")
    assert connected
    assert await socket.receive_json_from() == {"type": "incidents", "open": 0}
    rule = await sync_to_async(make_rule)()
    incident = await sync_to_async(fire)(rule)
    assert await socket.receive_json_from(timeout=5) == {"type": "incidents", "open": 1}
    await sync_to_async(incidents.resolve)(incident, by=Actor.system("test"))
    assert await socket.receive_json_from(timeout=5) == {"type": "incidents", "open": 0}
    await socket.disconnect()


async def test_someone_without_a_role_is_refused() -> None:
    socket, connected, _ = await connect(None)
    assert connected  # accepted, then closed with the reason
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
