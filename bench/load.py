"""Load: the push API, the live WebSocket's fan-out and the Overview under concurrent clients.

The app runs as the Procfile's ``web`` (daphne serving opsboard.asgi) on a scratch database
and a Redis database of the run's own; every client runs in a second process (this file,
started as ``load.py client SPEC OUT``: asyncio with httpx and websockets, no Django), so
that the server's figures are not the client's.

1. Push: 8 connections each pushing batches of 100 samples (10 series of 10 points, times
   increasing from a minute ago), in 4 rounds of 5 s: ``push_samples_per_s``, ``push_p95_ms``,
   ``push_requests``, ``push_errors``. After each round, the round's batches go through
   ``store.write`` in this process, one after another: ``store_write_samples_per_s`` and
   ``push_ratio`` = push ÷ store. ``push_samples_lost``: samples answered 200/202 but not in
   the database.
2. Fan-out: 200 sockets signed in as a Viewer subscribe to one series on ``/ws/live``; this
   process writes to it 20 times, 0.5 s apart, through ``store.write`` (whose announcement
   after commit is the live path: ``monitoring.live.publish`` → the channel layer → each
   consumer): ``ws_fanout_median_ms``, ``ws_fanout_p95_ms`` over every socket and write, from the
   call of ``store.write`` to the socket's receiving the point, and ``ws_missed``.
3. Pages: 20 users, each with its own Viewer session, loop ``GET /`` for 20 s with a small
   fleet seeded (4 model endpoints, 2 GPU nodes of 4 GPUs, an hour of their series, 2 runs);
   then ``GET /healthz`` the same way: ``overview_rps``, ``overview_p95_ms``,
   ``overview_errors``, ``healthz_rps`` and ``overview_rps_ratio`` = overview ÷ healthz.

``daphne_errors``: the errors daphne logged over the whole run.

``--quick``: 2 rounds of 1.5 s of pushes, 5 writes to the 200 sockets, 3 s of each page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _processes
import httpx
from websockets.asyncio.client import ClientConnection, connect

PUSH_METRIC = "bench_push"
STORE_METRIC = "bench_store"
FANOUT_METRIC = "bench_fanout"
BATCH = 100
SERIES_PER_BATCH = 10
ACCEPTED = (200, 202)
OPENING_AT_ONCE = 200  # every socket opens at the same instant (a deploy reconnecting every page)
logger = logging.getLogger("bench")


# --- The load generator: a second process, without Django --------------------------------------


def batch_points(client: int, number: int, start_ms: int) -> list[tuple[dict[str, str], int, float]]:
    """(labels, ts_ms, value) of one client's ``number``-th batch: 10 series, 10 points each, 1 ms
    apart, after every point of the client's earlier batches (so no point is pushed twice)."""
    per_series = BATCH // SERIES_PER_BATCH
    first_ms = start_ms + number * per_series
    return [
        ({"client": str(client), "series": str(i % SERIES_PER_BATCH)}, first_ms + i // SERIES_PER_BATCH, float(number))
        for i in range(BATCH)
    ]


def push_body(client: int, number: int, start_ms: int) -> str:
    samples = [
        {"name": PUSH_METRIC, "labels": labels, "ts": ts_ms / 1000, "value": value}
        for labels, ts_ms, value in batch_points(client, number, start_ms)
    ]
    return json.dumps({"samples": samples})


async def push_load(spec: dict[str, Any]) -> dict[str, Any]:
    """``clients`` connections pushing batches back to back until ``duration_s`` has passed;
    client ``n`` starts at its batch ``first[n]``."""
    headers = {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=len(spec["first"]), max_keepalive_connections=len(spec["first"]))
    deadline = time.monotonic() + spec["duration_s"]
    async with httpx.AsyncClient(
        base_url=spec["url"], headers=headers, limits=limits, timeout=30, trust_env=False
    ) as client:
        began = time.monotonic()
        done = await asyncio.gather(
            *(pusher(client, n, first, spec["start_ms"], deadline) for n, first in enumerate(spec["first"]))
        )
        return {"elapsed_s": time.monotonic() - began, "clients": done}


async def pusher(client: httpx.AsyncClient, n: int, first: int, start_ms: int, deadline: float) -> dict[str, Any]:
    done: dict[str, Any] = {"requests": 0, "accepted": 0, "latencies_ms": [], "statuses": Counter()}
    while time.monotonic() < deadline:
        body = push_body(n, first + done["requests"], start_ms)
        began = time.perf_counter()
        try:
            response = await client.post("/api/v1/push", content=body)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        done["latencies_ms"].append((time.perf_counter() - began) * 1000)
        done["requests"] += 1
        done["statuses"][str(status)] += 1
        if status in ACCEPTED:
            done["accepted"] += response.json()["accepted"]
    return done


async def fanout_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Open and subscribe every socket, say ``clients ready``, then note when each point arrives on each
    socket until every socket has ``writes`` points or ``listen_s`` has passed."""
    opening = asyncio.Semaphore(OPENING_AT_ONCE)
    began = time.monotonic()
    sockets = await asyncio.gather(*(open_socket(spec, cookie, opening) for cookie in spec["cookies"]))
    logger.info("%d sockets open and subscribed in %.1f s", len(sockets), time.monotonic() - began)
    print("clients ready", flush=True)
    deadline = time.monotonic() + spec["listen_s"]
    try:
        received = await asyncio.gather(*(listen(socket, spec["writes"], deadline) for socket in sockets))
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    return {"received": received}


async def open_socket(spec: dict[str, Any], cookie: str, opening: asyncio.Semaphore) -> ClientConnection:
    async with opening:
        socket = await connect(
            spec["url"],
            origin=spec["origin"],
            additional_headers={"Cookie": f"{spec['cookie_name']}={cookie}"},
            proxy=None,
            open_timeout=60,
        )
        await socket.send(json.dumps({"type": "subscribe", "selectors": [spec["selector"]]}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 60))
        if answer.get("type") != "subscribed":
            raise RuntimeError(f"subscribing was answered {answer}")
        return socket


async def listen(socket: ClientConnection, writes: int, deadline: float) -> list[tuple[float, float]]:
    """(value, arrival as Unix time) of every point received."""
    points: list[tuple[float, float]] = []
    while len(points) < writes and (left := deadline - time.monotonic()) > 0:
        try:
            raw = await asyncio.wait_for(socket.recv(), left)
        except TimeoutError:
            break
        arrived = time.time()
        message = json.loads(raw)
        if message.get("type") == "points":
            points += [(value, arrived) for series in message["series"] for _, value in series["points"]]
    return points


async def page_load(spec: dict[str, Any]) -> dict[str, Any]:
    """One user per cookie, each loading ``path`` back to back until ``duration_s`` has passed."""
    deadline = time.monotonic() + spec["duration_s"]
    began = time.monotonic()
    users = await asyncio.gather(*(page_user(spec, cookie, deadline) for cookie in spec["cookies"]))
    return {
        "elapsed_s": time.monotonic() - began,
        "latencies_ms": [ms for user in users for ms in user["latencies_ms"]],
        "statuses": sum((Counter(user["statuses"]) for user in users), Counter()),
    }


async def page_user(spec: dict[str, Any], cookie: str, deadline: float) -> dict[str, Any]:
    done: dict[str, Any] = {"latencies_ms": [], "statuses": Counter()}
    cookies = {spec["cookie_name"]: cookie}
    async with httpx.AsyncClient(base_url=spec["url"], cookies=cookies, timeout=30, trust_env=False) as client:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                status: int | str = (await client.get(spec["path"])).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            done["latencies_ms"].append((time.perf_counter() - began) * 1000)
            done["statuses"][str(status)] += 1
    return done


LOADS: dict[str, Callable[[dict[str, Any]], Any]] = {"push": push_load, "fanout": fanout_load, "pages": page_load}


def run_client(spec_path: Path, out_path: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    spec = json.loads(spec_path.read_text())
    out_path.write_text(json.dumps(asyncio.run(LOADS[spec["kind"]](spec))))


if __name__ == "__main__" and sys.argv[1:2] == ["client"]:
    run_client(Path(sys.argv[2]), Path(sys.argv[3]))
    raise SystemExit(0)


# --- The benchmark: Django on a scratch database, daphne --------------------------------------

# Redis keys, channel groups and Celery queues of this run only (see _processes.claim_redis_database).
PREFIX = f"opsboard-bench-{os.getpid()}"
os.environ["OPSBOARD_REDIS_PREFIX"] = PREFIX
REDIS_URL, RELEASE_REDIS = _processes.claim_redis_database(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ["REDIS_URL"] = REDIS_URL

import _django  # noqa: E402

_django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from monitoring import live, rollups, store  # noqa: E402
from monitoring.llm import normalised  # noqa: E402
from monitoring.models import GpuNode, ModelEndpoint  # noqa: E402
from monitoring.runs import start_run  # noqa: E402
from monitoring.samples import Sample, make_labels  # noqa: E402
from opsboard.accounts import roles  # noqa: E402
from opsboard.accounts.models import Role, User  # noqa: E402
from opsboard.accounts.services import create_token  # noqa: E402
from opsboard.audit.services import Actor  # noqa: E402
from opsboard.health import ALIVE_KEYS  # noqa: E402
from opsboard.redis_client import redis_client, redis_key  # noqa: E402

BY = Actor.system("bench")
HOUR_MS = 3_600_000
STEP_MS = 15_000
MODELS, NODES, GPUS, RUNS = 4, 2, 4, 2
LATENCY_BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")


@dataclass(frozen=True)
class Plan:
    push_clients: int = 8
    push_rounds: int = 4
    push_s: float = 5.0  # a round's
    sockets: int = 200
    writes: int = 20
    write_every_s: float = 0.5
    users: int = 20
    page_s: float = 20.0


QUICK = Plan(push_rounds=2, push_s=1.5, writes=5, page_s=3.0)


# --- Set-up --------------------------------------------------------------------------------


def app_env() -> dict[str, str]:
    """What daphne needs to run on the scratch database and this run's Redis."""
    return {
        "DATABASE_URL": _processes.database_url(),
        "REDIS_URL": REDIS_URL,
        "OPSBOARD_REDIS_PREFIX": PREFIX,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
    }


def viewer() -> User:
    for slug in roles.LADDER:  # the data migration made them; make sure
        Role.objects.get_or_create(slug=slug, defaults={"name": slug.capitalize(), "description": slug})
    user = User(username="bench", email="bench@example.test", role_id=roles.VIEWER)
    user.set_unusable_password()
    user.save()
    return user


def session_cookies(user: User, count: int) -> list[str]:
    """``count`` sessions of ``user`` signed in, as many browsers would hold."""
    cookies = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return cookies


def seed_fleet(now_ms: int) -> None:
    """Model endpoints and GPU nodes (not polled) with the last hour of what the Overview shows."""
    for m in range(MODELS):
        ModelEndpoint.objects.create(name=f"model-{m}", kind="prometheus", url="http://127.0.0.1:9/m", enabled=False)
    for n in range(NODES):
        GpuNode.objects.create(name=f"node-{n}", kind="agent", enabled=False)
    for r in range(RUNS):
        start_run(name=f"run-{r}", project="bench", config={"lr": 0.001}, by=BY)
    samples = [s for ts in range(now_ms - HOUR_MS, now_ms, STEP_MS) for s in fleet_samples(ts, ts - now_ms + HOUR_MS)]
    for start in range(0, len(samples), 10_000):
        store.write(samples[start : start + 10_000])
    rollups.roll_up(now_ms)


def fleet_samples(ts: int, age_ms: int) -> list[Sample]:
    """Every fleet series' sample at ``ts``; counters grow by ``age_ms``."""
    out = []
    for m in range(MODELS):
        labels = {"job": f"model-{m}", "model": f"model-{m}"}
        requests = age_ms / 1000 * (10 + m)
        out.append(sample(normalised.SUCCESS, labels, ts, requests * 0.99))
        out.append(sample(normalised.FAILURE, labels, ts, requests * 0.01))
        for i, le in enumerate(LATENCY_BUCKETS):
            share = min(1.0, (i + 1) / (len(LATENCY_BUCKETS) - 1))
            out.append(sample(f"{normalised.E2E}_bucket", {**labels, "le": le}, ts, requests * share))
    for n in range(NODES):
        for g in range(GPUS):
            labels = {"job": f"node-{n}", "node": f"node-{n}", "gpu": str(g)}
            out.append(sample("DCGM_FI_DEV_GPU_UTIL", labels, ts, float((ts // STEP_MS + g) % 100)))
            out.append(sample("DCGM_FI_DEV_FB_USED", labels, ts, 40_000.0 + g))
            out.append(sample("DCGM_FI_DEV_FB_FREE", labels, ts, 40_000.0 - g))
            out.append(sample("DCGM_FI_DEV_GPU_TEMP", labels, ts, 60.0 + g))
    return out


def sample(name: str, labels: dict[str, str], ts: int, value: float) -> Sample:
    return Sample(name, make_labels(labels), ts, value)


def close_other_sessions() -> None:
    """Sessions a killed process left on the scratch database would keep it from being dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )


@contextmanager
def marked_alive() -> Iterator[None]:
    """No Celery worker, beat or evaluator runs here, and /healthz and the Overview's health
    panel read when each last showed it was alive: mark them alive every 2 s, so that both
    pages answer as on a healthy install (200, not 503)."""
    stop = threading.Event()

    def mark() -> None:
        while True:
            client = redis_client()
            for key in ALIVE_KEYS.values():
                client.set(redis_key(key), repr(time.time()))
            if stop.wait(2.0):
                return

    thread = threading.Thread(target=mark, name="alive-marks", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# --- Clients -------------------------------------------------------------------------------


def run_load(
    processes: _processes.Processes,
    spec: dict[str, Any],
    timeout_s: float,
    when_ready: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run this file as a client process on ``spec`` and return what it found. With
    ``when_ready``, call it once the client says ``clients ready``."""
    name = f"client-{spec['kind']}"
    spec_path, out_path = processes.workdir / f"{name}.spec.json", processes.workdir / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, str(Path(__file__).resolve()), "client", str(spec_path), str(out_path)]
    process = processes.start(name, command)
    if when_ready is not None:
        processes.wait_for_log(name, "clients ready", timeout_s)
        when_ready()
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{name} did not finish within {timeout_s:g} s:\n{processes.tail(name)}") from None
    processes.started.remove((name, process))  # done: Processes.check() would take its exit for a failure
    if code != 0:
        raise SystemExit(f"{name} exited with {code}:\n{processes.tail(name)}")
    return json.loads(out_path.read_text())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- 1. Push -----------------------------------------------------------------------------------


@dataclass
class PushTotals:
    push_s: float = 0.0
    store_s: float = 0.0
    accepted: int = 0
    batches: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


def push_figures(processes: _processes.Processes, url: str, token: str, plan: Plan) -> None:
    """Rounds of pushes, each followed by ``store.write`` of the same batches in this process,
    so that both sides meet the same load from whatever else runs on the machine."""
    start_ms = int(time.time() * 1000) - 60_000
    first = [0] * plan.push_clients  # each client's next batch
    totals = PushTotals()
    for _ in range(plan.push_rounds):
        spec = {
            "kind": "push",
            "url": url,
            "token": token,
            "first": first,
            "duration_s": plan.push_s,
            "start_ms": start_ms,
        }
        result = run_load(processes, spec, timeout_s=plan.push_s + 120)
        totals.push_s += result["elapsed_s"]
        for client in result["clients"]:
            totals.accepted += client["accepted"]
            totals.latencies_ms += client["latencies_ms"]
            totals.statuses.update(client["statuses"])
        counts = [client["requests"] for client in result["clients"]]
        totals.store_s += time_store(first, counts, start_ms)
        totals.batches += sum(counts)
        first = [done + count for done, count in zip(first, counts, strict=True)]
    print_push_figures(totals, plan)


def time_store(first: list[int], counts: list[int], start_ms: int) -> float:
    """Seconds ``store.write`` takes in this process, one batch after another, on the batches the
    clients pushed (under another metric name, so that none is a duplicate)."""
    batches = [
        [sample(STORE_METRIC, labels, ts_ms, value) for labels, ts_ms, value in batch_points(client, number, start_ms)]
        for client, (done, count) in enumerate(zip(first, counts, strict=True))
        for number in range(done, done + count)
    ]
    began = time.perf_counter()
    for batch in batches:
        store.write(batch)
    return time.perf_counter() - began


def print_push_figures(totals: PushTotals, plan: Plan) -> None:
    errors = sum(totals.statuses.values()) - sum(totals.statuses[str(status)] for status in ACCEPTED)
    if errors:
        logger.warning("push answers: %s", dict(totals.statuses))
    push_rate, store_rate = totals.accepted / totals.push_s, totals.batches * BATCH / totals.store_s
    _django.figure("push_clients", plan.push_clients)
    _django.figure("push_requests", totals.batches)
    _django.figure("push_errors", errors)
    _django.figure("push_samples_per_s", push_rate, 0)
    _django.figure("push_median_ms", statistics.median(totals.latencies_ms), 1)
    _django.figure("push_p95_ms", percentile(totals.latencies_ms, 0.95), 1)
    _django.figure("push_samples_lost", max(0, totals.accepted - stored(PUSH_METRIC)))
    _django.figure("store_write_samples_per_s", store_rate, 0)
    _django.figure("push_ratio", push_rate / store_rate)


def stored(metric: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitoring_sample s JOIN monitoring_series r ON r.id = s.series_id WHERE r.name = %s",
            [metric],
        )
        return cursor.fetchone()[0]


# --- 2. Fan-out -------------------------------------------------------------------------------


def fanout_figures(processes: _processes.Processes, url: str, cookies: list[str], plan: Plan) -> None:
    written: dict[float, float] = {}

    def write_all() -> None:
        time.sleep(1.0)  # the last subscriptions' names reach Redis's watched set
        live.forget_watched_cache()  # this process read the set before anyone watched
        for number in range(plan.writes):
            began = time.time()
            store.write([sample(FANOUT_METRIC, {"bench": "fanout"}, int(began * 1000), float(number))])
            written[float(number)] = began
            time.sleep(max(0.0, plan.write_every_s - (time.time() - began)))

    spec = {
        "kind": "fanout",
        "url": url.replace("http://", "ws://") + "/ws/live",
        "origin": url,
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "cookies": cookies,
        "selector": FANOUT_METRIC,
        "writes": plan.writes,
        "listen_s": 1.0 + plan.writes * plan.write_every_s + 15,
    }
    result = run_load(processes, spec, timeout_s=180, when_ready=write_all)
    delays, missed = fanout_delays(result["received"], written)
    if not delays:
        raise SystemExit(f"none of {len(cookies)} sockets received any of {plan.writes} writes")
    _django.figure("ws_clients", len(cookies))
    _django.figure("ws_writes", plan.writes)
    _django.figure("ws_fanout_median_ms", statistics.median(delays), 1)
    _django.figure("ws_fanout_p95_ms", percentile(delays, 0.95), 1)
    _django.figure("ws_fanout_max_ms", max(delays), 1)
    _django.figure("ws_missed", missed)


def fanout_delays(received: list[list[tuple[float, float]]], written: dict[float, float]) -> tuple[list[float], int]:
    """Milliseconds from each write to each socket's receiving it; and how many never arrived."""
    delays, missed = [], 0
    for points in received:
        first: dict[float, float] = {}
        for value, arrived in points:
            first.setdefault(value, arrived)
        missed += sum(1 for value in written if value not in first)
        delays += [(first[value] - began) * 1000 for value, began in written.items() if value in first]
    return delays, missed


# --- 3. Pages ---------------------------------------------------------------------------------


def page_figures(processes: _processes.Processes, url: str, cookies: list[str], plan: Plan) -> None:
    rates: dict[str, float] = {}
    with marked_alive():
        check_overview(url, cookies[0])
        for name, path in (("overview", "/"), ("healthz", "/healthz")):
            spec = {
                "kind": "pages",
                "url": url,
                "path": path,
                "cookie_name": settings.SESSION_COOKIE_NAME,
                "cookies": cookies,
                "duration_s": plan.page_s,
            }
            result = run_load(processes, spec, timeout_s=plan.page_s + 120)
            ok = result["statuses"].get("200", 0)
            if ok != sum(result["statuses"].values()):
                logger.warning("%s answers: %s", path, result["statuses"])
            rates[name] = ok / result["elapsed_s"]
            _django.figure(f"{name}_rps", rates[name], 1)
            _django.figure(f"{name}_p95_ms", percentile(result["latencies_ms"], 0.95), 1)
            _django.figure(f"{name}_errors", sum(result["statuses"].values()) - ok)
    _django.figure("overview_users", len(cookies))
    _django.figure("overview_rps_ratio", rates["overview"] / rates["healthz"])


def check_overview(url: str, cookie: str) -> None:
    """The Overview shows the seeded fleet and is healthy: the load measures the page a user sees."""
    response = httpx.get(f"{url}/", cookies={settings.SESSION_COOKIE_NAME: cookie}, timeout=30, trust_env=False)
    names = [f"model-{MODELS - 1}", f"node-{NODES - 1}", f"run-{RUNS - 1}"]
    missing = [name for name in names if name not in response.text]
    if response.status_code != 200 or missing:
        raise SystemExit(f"the Overview answered {response.status_code} without {missing}:\n{response.text[:3000]}")


def server_errors(processes: _processes.Processes) -> int:
    """The errors daphne logged over the run (the app's and its own); the first is shown."""
    errors = [line for line in processes.log("daphne").read_text(errors="replace").splitlines() if " ERROR " in line]
    if errors:
        logger.warning("daphne logged %d errors; the first: %s", len(errors), errors[0])
    return len(errors)


# --- Main -------------------------------------------------------------------------------------


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("httpx", "axes"):  # a line per request or session would bury the figures
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 short push rounds, 5 writes, 3 s of each page")
    plan = QUICK if parser.parse_args().quick else Plan()
    _processes.stop_on_sigterm()
    with ExitStack() as stack:
        stack.callback(RELEASE_REDIS)  # last: after daphne and the clients are stopped
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(_django.scratch_database())
        if connection.vendor != "postgresql":
            raise SystemExit("bench/load.py needs DATABASE_URL=postgres://…")
        stack.callback(close_other_sessions)  # runs after the processes below are stopped
        processes = stack.enter_context(_processes.Processes(workdir))
        user = viewer()
        token = create_token(user=user, name="bench", scopes=["ingest"], by=BY)[1]
        cookies = session_cookies(user, max(plan.sockets, plan.users))
        seed_fleet(int(time.time() * 1000))
        url = processes.daphne(_processes.free_port(), app_env())
        push_figures(processes, url, token, plan)
        fanout_figures(processes, url, cookies[: plan.sockets], plan)
        page_figures(processes, url, cookies[: plan.users], plan)
        _django.figure("daphne_errors", server_errors(processes))


if __name__ == "__main__":
    main()
