"""Real HTTP servers on loopback for tests: exposition endpoints, OpenAI-style streams,
JSON probes, and misbehaving servers (hanging, trickling, huge, failing)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve(handle: Handler) -> Iterator[str]:
    """Run ``handle`` for every request on a free loopback port; yields the base URL."""

    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handle(self)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/plain") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def exposition(text: str, content_type: str = "text/plain; version=0.0.4") -> Handler:
    return lambda handler: send(handler, 200, text.encode(), content_type)


def status(code: int, body: str = "oops") -> Handler:
    return lambda handler: send(handler, code, body.encode())


def hanging(seconds: float = 30) -> Handler:
    def handle(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return handle


def trickling(pause_s: float, chunks: int = 100) -> Handler:
    """Headers at once, then a byte every ``pause_s``: each read succeeds, the whole never ends."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.end_headers()
        try:
            for _ in range(chunks):
                handler.wfile.write(b"#")
                handler.wfile.flush()
                time.sleep(pause_s)
        except OSError:
            pass

    return handle


def huge(megabytes: int) -> Handler:
    line = b"# padding " + b"x" * 1013 + b"\n"

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.end_headers()
        try:
            for _ in range(megabytes * 1024):
                handler.wfile.write(line)
        except OSError:
            pass

    return handle


def read_json(handler: BaseHTTPRequestHandler) -> dict:
    length = int(handler.headers.get("Content-Length") or 0)
    return json.loads(handler.rfile.read(length) or b"{}")


def openai_stream(tokens: list[str], *, first_token_delay_s: float = 0.0, usage: bool = True) -> Handler:
    """An OpenAI-compatible streaming completion: one SSE event per token, then usage, then [DONE]."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        request = read_json(handler)
        handler.server.requests.append((handler.path, request))  # type: ignore[attr-defined]
        chat = handler.path.endswith("/chat/completions")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        time.sleep(first_token_delay_s)
        for token in tokens:
            choice = {"index": 0, "delta": {"content": token}} if chat else {"index": 0, "text": token}
            _event(handler, {"id": "x", "choices": [choice]})
        if usage:
            _event(handler, {"id": "x", "choices": [], "usage": {"completion_tokens": len(tokens), "prompt_tokens": 3}})
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()

    return handle


def _event(handler: BaseHTTPRequestHandler, payload: dict) -> None:
    handler.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
    handler.wfile.flush()


@contextmanager
def serve_recording(handle: Handler) -> Iterator[tuple[str, list]]:
    """Like ``serve``, and also yields the list of (path, JSON body) the handler recorded."""
    requests: list = []

    def wrapped(handler: BaseHTTPRequestHandler) -> None:
        handler.server.requests = requests  # type: ignore[attr-defined]
        handle(handler)

    with serve(wrapped) as url:
        yield url, requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
