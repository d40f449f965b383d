"""``python -m demo``: the demo model server, a light load on it, and one training run.

Started by `make run` (the Procfile's ``demo`` process) unless OPSBOARD_DEMO=0; the targets
it feeds are registered by ``manage.py demo_setup``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from demo import load, server

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("demo")


def wait_for(url: str, stop: threading.Event, timeout_s: float = 120) -> bool:
    """Whether ``url`` answered (any status) before ``timeout_s`` or a stop."""
    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (the local Opsboard)
            return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            stop.wait(1)
    return False


def train_once(opsboard: str, token_file: Path, steps: int, step_delay: float, stop: threading.Event) -> None:
    """Run examples/train_cnn.py once as a training run, stopped with the demo."""
    if not wait_for(f"{opsboard}/healthz", stop) or not token_file.exists():
        logger.warning("demo training run skipped: Opsboard or the demo token is not there")
        return
    command = [
        sys.executable,
        str(ROOT / "examples" / "train_cnn.py"),
        "--url",
        opsboard,
        "--project",
        "demo",
        "--name",
        time.strftime("cnn-%Y%m%d-%H%M%S"),
        "--steps",
        str(steps),
        "--step-delay",
        str(step_delay),
    ]
    # The token travels in the environment, not the command line, which `ps` shows to anyone.
    env = {**os.environ, "OPSBOARD_TOKEN": token_file.read_text().strip()}
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 (a fixed command)
    while process.poll() is None and not stop.is_set():
        stop.wait(1)
    if process.poll() is None:
        process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--opsboard", default="http://127.0.0.1:8000", help="where Opsboard serves")
    parser.add_argument("--token-file", type=Path, default=ROOT / "var" / "demo" / "token")
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--step-delay", type=float, default=0.25, help="seconds between steps, so the run is seen live")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    model = server.serve(args.host, args.port)
    load.start(f"http://{args.host}:{args.port}/predict", stop)
    trainer = threading.Thread(
        target=train_once, args=(args.opsboard, args.token_file, args.train_steps, args.step_delay, stop), daemon=True
    )
    trainer.start()
    stop.wait()
    model.shutdown()
    trainer.join(timeout=10)


if __name__ == "__main__":
    main()
