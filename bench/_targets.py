"""Many small exposition servers in one process, for the scrape benchmarks.

    python bench/_targets.py --count 200 --series 500 --port-file ports.txt

Each server answers /metrics with ``--series`` counters whose values move on each scrape.
The ports are written one per line to ``--port-file`` once all servers listen.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def exposition(series: int, tick: int) -> bytes:
    lines = ["# HELP bench_requests_total Requests handled.", "# TYPE bench_requests_total counter"]
    lines += [f'bench_requests_total{{route="/r{i}",code="200"}} {tick * (i + 1)}' for i in range(series)]
    return ("\n".join(lines) + "\n").encode()


def make_server(series: int) -> ThreadingHTTPServer:
    ticks = itertools.count()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition(series, next(ticks))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    servers = [make_server(args.series) for _ in range(args.count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    Path(args.port_file).write_text("\n".join(str(s.server_address[1]) for s in servers) + "\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
