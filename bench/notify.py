"""Publish -> "changed" on the driver's page (server-sent events), measured end to end.

    python -m bench.notify [--streams-per-driver N] [--publishes M]   (from the repo root)

A real API (uvicorn, one process) on a SQLite copy of the Taishang week, one driver per
RV with N open event streams each (phones), and M plans published one after the other,
each dropping one session of an RV (and giving back the one dropped before). The figure
is the time from the publishing transaction's commit to the ``changed`` event arriving
on every stream of the drivers told: p50, p95 and max, beside the stream's poll period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.routes.notifications import POLL_SECONDS
from core.clock import FixedClock
from core.settings import Settings
from fleet import users
from fleet.db import create_all, make_engine, session_scope
from fleet.plans import store_plan
from fleet.scenario_io import import_scenario
from solver.evaluate import evaluate
from solver.hand import hand_rotation
from solver.load import parse_scenario
from solver.planfile import plan_document
from solver.reasons import unserved_reasons
from solver.travel import TravelTable

SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "taishang-week.json"
NOW = datetime.fromisoformat("2026-11-23T08:00:00+08:00")
PASSWORD = "bench-password-1"
WEEK = "2026-W48"


def hand_plan(data: dict[str, Any]) -> dict[str, Any]:
    scenario = parse_scenario(data)
    travel = TravelTable.build(scenario)
    sessions = hand_rotation(scenario, travel)
    stats = evaluate(scenario, sessions, travel)
    return plan_document(
        scenario, sessions, unserved_reasons(scenario, sessions, travel), stats, None, 0.0
    )


class NoBroker:
    """The API's publisher without a broker (nothing here writes events)."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, topic: str, key: str, value: bytes) -> None:
        raise RuntimeError("no broker in this benchmark")

    async def ready(self) -> bool:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def follow(base: str, token: str, arrivals: list[float], ready: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream("GET", f"{base}/api/v1/me/stream?max_seconds=3600", headers=headers) as r,
    ):
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "hello":
                    ready.set()
            elif line == "" and event == "changed":
                arrivals.append(time.perf_counter())
                event = ""


async def run(streams_per_driver: int, publishes: int) -> None:
    data = json.loads(SCENARIO.read_text())
    workdir = Path(tempfile.mkdtemp(prefix="rvrota-bench-notify-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    create_all(engine)
    base_plan = hand_plan(data)
    vehicles = sorted({s["vehicle"] for s in base_plan["sessions"]})
    with session_scope(engine) as db:
        import_scenario(db, data, "default")
        for v in vehicles:
            users.create_user(db, f"driver-{v}", "driver", PASSWORD, vehicle=v)
        store_plan(db, "default", WEEK, base_plan, NOW)
    settings = Settings(
        database_url=url,
        kafka_bootstrap="127.0.0.1:1",
        secret_key="bench-secret-key-for-rvrota-0123456789abcdef",
        environment="test",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=FixedClock(NOW), publisher=NoBroker()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    arrivals: dict[str, list[list[float]]] = {}
    tasks = []
    async with httpx.AsyncClient() as client:
        for v in vehicles:
            r = await client.post(
                f"{base}/api/v1/auth/token", data={"username": f"driver-{v}", "password": PASSWORD}
            )
            token = r.json()["access_token"]
            arrivals[v] = []
            for _ in range(streams_per_driver):
                got: list[float] = []
                ready = asyncio.Event()
                arrivals[v].append(got)
                tasks.append(asyncio.create_task(follow(base, token, got, ready)))
                await ready.wait()
    latencies: list[float] = []
    dropped_before: dict[str, Any] | None = None
    sessions = [s for s in base_plan["sessions"]]
    for i in range(publishes):
        dropped = sessions[(7 * i + 3) % len(sessions)]
        plan = dict(base_plan)
        plan["sessions"] = [s for s in sessions if s is not dropped]
        told = {dropped["vehicle"]} | ({dropped_before["vehicle"]} if dropped_before else set())
        counts = {v: [len(g) for g in arrivals[v]] for v in told}

        def publish(plan: dict[str, Any] = plan) -> float:
            with session_scope(engine) as db:
                store_plan(db, "default", WEEK, plan, NOW, trigger="bench")
            return time.perf_counter()  # committed

        committed = await asyncio.to_thread(publish)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            len(g) <= counts[v][k] for v in told for k, g in enumerate(arrivals[v])
        ):
            await asyncio.sleep(0.01)
        for v in told:
            for k, g in enumerate(arrivals[v]):
                if len(g) > counts[v][k]:
                    latencies.append(g[counts[v][k]] - committed)
                else:
                    latencies.append(float("inf"))
        dropped_before = dropped
        await asyncio.sleep(0.3)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    server.should_exit = True
    thread.join(10)
    engine.dispose()
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    print(
        f"publish -> 'changed' on the driver's stream ({len(vehicles)} drivers x "
        f"{streams_per_driver} streams, {publishes} publishes, {len(latencies)} deliveries, "
        f"poll {POLL_SECONDS:g} s):"
    )
    print(
        f"  p50 {statistics.median(ordered):.3f} s   p95 {p95:.3f} s   max {ordered[-1]:.3f} s"
        f"   lost {sum(1 for x in ordered if x == float('inf'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams-per-driver", type=int, default=5)
    parser.add_argument("--publishes", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.streams_per_driver, args.publishes))


if __name__ == "__main__":
    main()
