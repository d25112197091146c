"""HTTP API benchmark: next stop and weekly schedule latency, errors under concurrency,
and the write path through the outbox with the broker up and down.

Seeds a fresh database with region-150 (150 sites, 12 RVs) and its hand rotation as the
plan in force, starts a private Kafka broker (free ports, temporary directory) and
``rvrota serve`` in a subprocess (uvicorn, as many worker processes as ``serve`` starts
by default unless ``--workers`` says), and drives the reads from one asyncio process
with aiohttp over keep-alive connections (a light client: on 2 cores it competes with
the server for CPU). Every figure is printed next to a trivial endpoint (``/healthz``)
measured by the same client in the same run, so the ratio says what the endpoint itself
costs on this machine. The write phases (bench/api_writes.py, httpx) stop the broker
and start it again.

    python bench/api.py [--seconds 5] [--rate 200] [--database-url URL] [--skip-writes]

Targets (issue #5): next-stop p99 <= 20 ms at 200 requests/s; weekly schedule for 12 RVs
p99 <= 50 ms; no errors under 50 concurrent clients. Issue #10: API write p99 with the
broker up and down side by side; outbox-to-topic p99 <= 100 ms at 200 writes/s.
Issue #11: next-stop p99 <= 10 ms at 200/s; 50 concurrent mixed clients >= 600 requests/s
with p99 <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.cli import default_workers  # noqa: E402
from bench.api_writes import write_phases  # noqa: E402
from fleet import plans, users  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402
from fleet.scenario_io import import_scenario, scenario_week  # noqa: E402
from streams import kafka_local  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from tests.api.seeding import hand_plan  # noqa: E402

SCENARIO = REPO.parent / "shared" / "scenarios" / "region-150.json"
PASSWORD = "bench-password-1"
WHY: Counter[str] = Counter()  # what went wrong, when anything did
CLOCK_START = "2026-11-23T08:00:00+08:00"  # Monday of the sample week, before the first slot


@dataclass
class Result:
    name: str
    latencies: list[float]
    errors: int
    seconds: float

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, reference: Result | None = None) -> str:
        p50, p99 = self.pct(0.50), self.pct(0.99)
        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        text = (
            f"{self.name:<34} n={len(self.latencies):>5} {rate:>6.0f} req/s  "
            f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(self.latencies) * 1000:6.1f} ms  "
            f"errors {self.errors}"
        )
        if reference is not None and reference.latencies:
            text += f"  (p99 x{p99 / reference.pct(0.99):.1f} of /healthz)"
        return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str) -> str:
    """Region-150, its hand rotation published, a dispatcher and a driver of RV1."""
    engine = make_engine(url)
    create_all(engine)
    data = json.loads(SCENARIO.read_text())
    week = scenario_week(data)
    from datetime import datetime

    with session_scope(engine) as db:
        import_scenario(db, data, "default")
        plans.store_plan(
            db,
            region="default",
            week=week,
            plan=hand_plan(data),
            now=datetime.fromisoformat(CLOCK_START),
            scenario=data,
        )
        users.create_user(db, "dispatcher", "dispatcher", PASSWORD)
        users.create_user(db, "driver", "driver", PASSWORD, vehicle="RV1")
    engine.dispose()
    return week


async def get_ok(client: aiohttp.ClientSession, path: str, headers: dict[str, str]) -> bool:
    """GET ``path``; False (and the reason counted in ``WHY``) unless it answered 200."""
    try:
        async with client.get(path, headers=headers) as r:
            body = await r.read()
            if r.status != 200:
                WHY[f"HTTP {r.status}: {body[:120]!r}"] += 1
                return False
    except (aiohttp.ClientError, TimeoutError) as exc:
        WHY[f"{type(exc).__name__}: {exc}"[:160]] += 1
        return False
    return True


async def token(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def open_loop(
    client: aiohttp.ClientSession,
    name: str,
    path: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
) -> Result:
    """Requests started at a fixed rate whatever the answers; latency from the planned start."""
    latencies: list[float] = []
    errors = 0
    interval = 1.0 / rate
    start = time.perf_counter()

    async def one(planned: float) -> None:
        nonlocal errors
        if not await get_ok(client, path, headers):
            errors += 1
        latencies.append(time.perf_counter() - planned)

    tasks = []
    n = int(rate * seconds)
    for i in range(n):
        planned = start + i * interval
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(planned)))
    await asyncio.gather(*tasks)
    return Result(name, latencies, errors, time.perf_counter() - start)


async def concurrent(
    client: aiohttp.ClientSession,
    paths: list[tuple[str, dict[str, str]]],
    clients: int,
    seconds: float,
) -> Result:
    """``clients`` loops, each sending the next request as soon as the last one answered.

    One unmeasured second first: each client opens its keep-alive connection (as a phone
    keeps one) before the measured ``seconds``.
    """
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + 1.0

    async def loop(index: int) -> None:
        nonlocal errors
        i = index
        while time.perf_counter() < stop:
            path, headers = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            if not await get_ok(client, path, headers):
                errors += 1
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(loop(i) for i in range(clients)))  # warm-up
    latencies.clear()
    errors = 0
    stop = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    return Result(
        f"mixed, {clients} concurrent clients", latencies, errors, time.perf_counter() - start
    )


BUCKET = re.compile(
    r"^rvrota_http_request_duration_seconds_bucket"
    r'\{le="([^"]+)",method="GET",route="([^"]+)"\} (\S+)$'
)


async def server_buckets(client: aiohttp.ClientSession) -> dict[str, dict[float, float]]:
    """The server's own latency histogram (from /metrics), per route: upper bound -> count.

    With several worker processes this is the one that answered (a sample of them)."""
    async with client.get("/metrics") as r:
        text = await r.text()
    out: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        m = BUCKET.match(line)
        if m:
            out.setdefault(m.group(2), {})[float(m.group(1))] = float(m.group(3))
    return out


def server_p99(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]], route: str
) -> str:
    """The bucket bound under which 99 % of this phase's requests were answered, server-side."""
    now, then = after.get(route, {}), before.get(route, {})
    diff = {le: now[le] - then.get(le, 0.0) for le in now}
    total = diff.get(float("inf"), 0.0)
    if total <= 0:
        return "server-side p99 n/a"
    for le in sorted(diff):
        if diff[le] >= 0.99 * total:
            return f"server-side p99 <= {le * 1000:g} ms"
    return "server-side p99 n/a"


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its children alive (uvicorn's workers), from
    Linux /proc, or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in children:
        total += process_cpu_seconds(int(child)) or 0.0
    return total


async def cpu_per_request(
    client: aiohttp.ClientSession, pid: int, path: str, headers: dict[str, str], n: int = 400
) -> str:
    """Server CPU per request, one request at a time: independent of other load on the box."""
    before = process_cpu_seconds(pid)
    if before is None:
        return "n/a"
    for _ in range(n):
        assert await get_ok(client, path, headers), WHY
    after = process_cpu_seconds(pid)
    assert after is not None
    return f"{(after - before) / n * 1000:.2f} ms"


async def drive(
    base: str,
    week: str,
    rate: float,
    seconds: float,
    server_pid: int | None = None,
    broker: kafka_local.BrokerConfig | None = None,
) -> list[str]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as writer,
        aiohttp.ClientSession(
            base,
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=30.0),
        ) as client,
    ):
        driver = await token(writer, "driver")
        dispatcher = await token(writer, "dispatcher")
        schedule = f"/api/v1/schedule?week={week}"
        r = await writer.get(schedule, headers=dispatcher)
        body = r.json()
        sessions, vehicles = len(body["sessions"]), len(body["vehicles"])
        next_stop = "/api/v1/vehicles/RV1/next-stop"
        assert await get_ok(client, next_stop, driver), WHY
        for _ in range(50):  # warm up
            await get_ok(client, "/healthz", {})
            await get_ok(client, next_stop, driver)
        lines = [f"weekly schedule: {vehicles} RVs, {sessions} sessions"]
        b0 = await server_buckets(client)
        healthz = await open_loop(client, "GET /healthz (reference)", "/healthz", {}, rate, seconds)
        b1 = await server_buckets(client)
        lines.append(healthz.line() + "  " + server_p99(b0, b1, "/healthz"))
        me = await open_loop(
            client, "GET /api/v1/me (auth reference)", "/api/v1/me", driver, rate, seconds
        )
        b2 = await server_buckets(client)
        lines.append(me.line(healthz) + "  " + server_p99(b1, b2, "/api/v1/me"))
        ns = await open_loop(
            client, f"GET next-stop @ {rate:.0f}/s", next_stop, driver, rate, seconds
        )
        b3 = await server_buckets(client)
        lines.append(
            ns.line(healthz)
            + f"  target p99 <= 10 ms: {'met' if ns.pct(0.99) <= 10 else 'NOT met'}  "
            + server_p99(b2, b3, "/api/v1/vehicles/{vehicle_id}/next-stop")
        )
        sched_rate = min(rate, 50.0)
        sc = await open_loop(
            client,
            f"GET schedule (12 RVs) @ {sched_rate:.0f}/s",
            schedule,
            dispatcher,
            sched_rate,
            seconds,
        )
        b4 = await server_buckets(client)
        lines.append(
            sc.line(healthz)
            + f"  target p99 <= 50 ms: {'met' if sc.pct(0.99) <= 50 else 'NOT met'}  "
            + server_p99(b3, b4, "/api/v1/schedule")
        )
        if server_pid is not None:
            cpu = [
                f"{name} {await cpu_per_request(client, server_pid, path, headers)}"
                for name, path, headers in (
                    ("/healthz", "/healthz", {}),
                    ("/me", "/api/v1/me", driver),
                    ("next-stop", next_stop, driver),
                    ("schedule", schedule, dispatcher),
                )
            ]
            lines.append("server CPU per request (sequential): " + ", ".join(cpu))
        mix = [
            ("/healthz", {}),
            (next_stop, driver),
            (schedule, dispatcher),
            ("/api/v1/me", driver),
        ]
        cc = await concurrent(client, mix, 50, seconds)
        cc_rate = len(cc.latencies) / cc.seconds
        cc_met = cc.errors == 0 and cc_rate >= 600 and cc.pct(0.99) <= 150
        lines.append(
            cc.line(healthz)
            + f"  target >= 600 req/s, p99 <= 150 ms, no errors: {'met' if cc_met else 'NOT met'}"
        )
        if broker is not None:
            config = broker
            sites = [str(x["id"]) for x in json.loads(SCENARIO.read_text())["sites"]]

            async def stop_broker() -> None:
                await asyncio.to_thread(kafka_local.stop, config, 30.0)

            async def start_broker() -> None:
                await asyncio.to_thread(kafka_local.start, config, 180.0)

            # a client of its own: the setup's connections sat idle past the server's
            # keep-alive during the reads, and a POST on a closed one is not retried
            fresh = httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits)
            async with fresh:
                lines += await write_phases(
                    fresh,
                    config.bootstrap,
                    dispatcher,
                    sites,
                    rate,
                    seconds,
                    healthz.pct(0.99),
                    stop_broker,
                    start_broker,
                    (lambda: process_cpu_seconds(server_pid)) if server_pid else lambda: None,
                )
        return lines


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests/s of the open-loop runs"
    )
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database (default: temp SQLite)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="uvicorn worker processes (default: as rvrota serve: 1 on SQLite, else 1 per CPU)",
    )
    parser.add_argument(
        "--skip-writes", action="store_true", help="reads only (no broker, no write phases)"
    )
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker goes away on purpose
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        week = seed(url)
        broker = None
        bootstrap = f"127.0.0.1:{free_port()}"  # reads need no broker
        if not args.skip_writes:
            controller = free_port()
            broker = kafka_local.BrokerConfig(
                home=Path(tmp) / "kafka", port=free_port(), controller_port=controller
            )
            kafka_local.start(broker, timeout=180.0)
            bootstrap = broker.bootstrap
            asyncio.run(ensure_topics(bootstrap, ["rvrota.site-headcounts"], broker.partitions))
        port = free_port()
        env = {
            **os.environ,
            "RVROTA_DATABASE_URL": url,
            "RVROTA_SECRET_KEY": "bench-secret-0123456789abcdef0123456789",
            "RVROTA_KAFKA_BOOTSTRAP": bootstrap,
            "RVROTA_OUTBOX_RETRY_MAX_SECONDS": "1",
            "RVROTA_CLOCK_START": CLOCK_START,
            "RVROTA_CLOCK_SPEED": "1",
            "RVROTA_LOG_LEVEL": "ERROR",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rvrota",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *(["--workers", str(args.workers)] if args.workers is not None else []),
            ],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the API server did not start")
                time.sleep(0.2)
            workers = args.workers if args.workers is not None else default_workers(url)
            print(
                f"rvrota API benchmark: {url.split(':')[0]}, uvicorn {workers} worker process(es), "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
            )
            pid = server.pid  # with several workers, its children's CPU is counted too
            # the measuring client's own heap (the seeded scenario, the ORM's objects) out of
            # its collector, as the server does with its startup heap: a full collection of it
            # stalled the client's loop for ~100 ms once every few seconds, which the open-loop
            # timings counted as the server's latency
            gc.collect()
            gc.freeze()
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:  # uvloop: a lighter client
                for line in runner.run(drive(base, week, args.rate, args.seconds, pid, broker)):
                    print(line)
            for reason, count in WHY.most_common():
                print(f"error x{count}: {reason}")
        finally:
            server.terminate()
            server.wait(10)
            if broker is not None:
                kafka_local.stop(broker, timeout=30.0)


if __name__ == "__main__":
    main()
