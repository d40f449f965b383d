"""A small torch model (the examples' CNN) behind POST /predict, with its own /metrics in
the Prometheus conventions for HTTP servers: a request-latency histogram, request counters
by status, and requests in flight."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from examples.train_cnn import SmallCNN

logger = logging.getLogger(__name__)
MAX_BATCH = 64
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class ModelService:
    """The model and the metrics of serving it; safe to call from many request threads."""

    def __init__(self, error_rate: float, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.model = SmallCNN().eval()
        self.error_rate = error_rate
        self.lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer a request.",
            ["handler"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.requests = Counter("http_requests", "Requests answered.", ["handler", "code"], registry=self.registry)
        self.in_flight = Gauge("http_requests_in_flight", "Requests being answered.", registry=self.registry)

    def predict(self, body: dict) -> tuple[int, dict]:
        """(status, answer) for a predict request: ``{"batch": n}`` runs n random images."""
        batch = body.get("batch", 1)
        if not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            return 400, {"error": f"batch must be a whole number from 1 to {MAX_BATCH}"}
        if random.random() < self.error_rate:  # the demo fails now and then, so error charts move
            return 500, {"error": "the demo model failed this request on purpose"}
        images = torch.randn(batch, 1, 28, 28)
        with self.lock, torch.inference_mode():
            probabilities = torch.softmax(self.model(images), dim=-1)
        return 200, {"classes": probabilities.argmax(dim=-1).tolist()}


def make_handler(service: ModelService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            self._send(200, generate_latest(service.registry), CONTENT_TYPE_LATEST)

        def do_POST(self) -> None:
            if self.path != "/predict":
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            started = time.perf_counter()
            service.in_flight.inc()
            try:
                status, answer = service.predict(self._json())
            finally:
                service.in_flight.dec()
            service.latency.labels("/predict").observe(time.perf_counter() - started)
            service.requests.labels("/predict", str(status)).inc()
            self._send(status, json.dumps(answer).encode(), "application/json")

        def _json(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return {"batch": None}
            return body if isinstance(body, dict) else {"batch": None}

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve(host: str, port: int, error_rate: float = 0.02) -> ThreadingHTTPServer:
    """Start the model server in a background thread and return it."""
    server = ThreadingHTTPServer((host, port), make_handler(ModelService(error_rate)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-model", daemon=True).start()
    logger.info("demo model serving on http://%s:%d (POST /predict, GET /metrics)", host, port)
    return server
