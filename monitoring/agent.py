"""Opsboard's node agent: host and GPU metrics over HTTP in the Prometheus text format.

    python -m monitoring.agent --port 9835 [--host 0.0.0.0] [--interval 5]

It stands in for node_exporter plus dcgm-exporter on a GPU node and exposes their metric names
(see hostmetrics and gpumetrics), so Opsboard's pages and alert rules work with either. It needs
only psutil, nvidia-ml-py and prometheus_client; never Django. Without a GPU or driver it logs
why once and serves host metrics with ``opsboard_agent_gpu_available 0``.

The text is rendered here rather than by prometheus_client's generate_latest, which renames
every counter's TYPE line to ``<name>_total``: dcgm-exporter's counters (energy, ECC, PCIe
replays) have no such suffix and must read exactly as dcgm-exporter writes them.

Readings are cached for ``--interval`` seconds: a reading costs a few milliseconds, but two
scrapers (an HA pair, Opsboard and a Prometheus) then share one reading instead of each
querying NVML and statfs-ing every mount, and concurrent scrapes wait for one collection
rather than running it twice. ``--interval 0`` reads afresh on every scrape.
"""

from __future__ import annotations

import argparse
import html
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from prometheus_client.utils import floatToGoString

from monitoring import gpumetrics, hostmetrics, nvml
from monitoring.samples import Sample

log = logging.getLogger("monitoring.agent")

DEFAULT_PORT = 9835
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - an exporter is scraped from other machines, as node_exporter
DEFAULT_INTERVAL_S = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS: dict[str, tuple[str, str]] = {**hostmetrics.METRICS, **gpumetrics.METRICS}
INDEX_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Opsboard agent</title></head>
<body><h1>Opsboard agent on {host}</h1><p><a href="/metrics">Metrics</a></p></body></html>
"""


class Readings:
    """The rendered exposition, collected at most once per ``interval_s`` whatever the scrapers."""

    def __init__(self, hostname: str, interval_s: float) -> None:
        self.hostname = hostname
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._text = ""
        self._taken_at: float | None = None

    def text(self) -> str:
        with self._lock:
            now = time.monotonic()
            if self._taken_at is None or now - self._taken_at >= self._interval_s:
                self._text = render(self.collect(), METRICS)
                self._taken_at = now
            return self._text

    def collect(self) -> list[Sample]:
        ts_ms = int(time.time() * 1000)
        # The shared XID counter: collect() starts it should a driver turn up after start.
        return hostmetrics.collect(ts_ms) + gpumetrics.collect(ts_ms, self.hostname)


def render(samples: Iterable[Sample], metrics: Mapping[str, tuple[str, str]]) -> str:
    """Prometheus text format 0.0.4: one HELP and TYPE per name, that name's samples together.

    No timestamps, as node_exporter and dcgm-exporter: the scraper stamps the scrape.
    """
    families: dict[str, list[Sample]] = {}
    for s in samples:
        families.setdefault(s.name, []).append(s)
    lines: list[str] = []
    for name, family in families.items():
        kind, help_text = metrics.get(name, ("untyped", name))
        lines.append(f"# HELP {name} {_escape_help(help_text)}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(_sample_line(s) for s in family)
    return "\n".join(lines) + "\n" if lines else ""


def _sample_line(s: Sample) -> str:
    if not s.labels:
        return f"{s.name} {floatToGoString(s.value)}"
    labels = ",".join(f'{key}="{_escape_label(value)}"' for key, value in s.labels)
    return f"{s.name}{{{labels}}} {floatToGoString(s.value)}"


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


class Handler(BaseHTTPRequestHandler):
    """/metrics, an index page at /, 404 elsewhere."""

    server: AgentServer
    server_version = "opsboard-agent"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/":
            host = html.escape(self.server.readings.hostname)
            self._send(200, "text/html; charset=utf-8", INDEX_PAGE.format(host=host))
        else:
            self._send(404, "text/plain; charset=utf-8", "Not found. Metrics are at /metrics\n")

    def _metrics(self) -> None:
        try:
            body = self.server.readings.text()
        except Exception:  # a bug in rendering: say so to the scraper, keep serving
            log.exception("rendering /metrics failed")
            self._send(500, "text/plain; charset=utf-8", "collecting metrics failed; see the agent's log\n")
            return
        self._send(200, CONTENT_TYPE, body)

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow scraper never holds up shutdown

    def __init__(self, address: tuple[str, int], readings: Readings) -> None:
        self.readings = readings
        super().__init__(address, Handler)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.agent", description="Serve host and GPU metrics for Opsboard or Prometheus."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        help=f"seconds a reading is reused across scrapes; 0 reads on every scrape (default {DEFAULT_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--hostname", default=socket.gethostname(), help="Hostname label of GPU series (default: this machine's)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    xids = gpumetrics.shared_xid_counter()
    if gpumetrics.available():  # else it has logged why, once
        xids.start()
    try:
        server = AgentServer((args.host, args.port), Readings(args.hostname, max(args.interval, 0.0)))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        _stop_gpu(xids)
        return 1
    stop = threading.Event()
    _on_signals(stop)
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    log.info("serving metrics on http://%s:%d/metrics", args.host, server.server_address[1])
    while not stop.wait(1.0):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    _stop_gpu(xids)
    return 0


def _on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT end the main loop; the HTTP thread cannot be shut down from a handler."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _stop_gpu(xids: gpumetrics.XidCounter) -> None:
    xids.stop()
    nvml.shutdown()


if __name__ == "__main__":
    sys.exit(main())
