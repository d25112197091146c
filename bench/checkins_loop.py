"""A cinema evening end to end: phones' check-ins from the API through the real broker to
the stream worker's table, measured against the target (issue 15): 2,000 check-ins in the
ten minutes after a cinema evening starts, across 50 sessions, persisted p99 <= 1 s, the
page's answer p99 <= 300 ms.

    python bench/checkins_loop.py [--backend sqlite|postgresql|both] [--checkins 2000]
        [--sessions 50] [--seconds 600] [--seed 7]

One run per backend (``both``: SQLite, then PostgreSQL, printed side by side): a fresh
database (PostgreSQL: a new database on ``RVROTA_TEST_POSTGRES_URL``'s server, dropped
afterwards) holding the Taishang week with ``--sessions`` RVs (copies of its RVs, each with
a cinema) and a published plan that puts each at a site of its own on the Wednesday
evening; a private Kafka broker (``streams.kafka_local``); the stream worker
(``python -m rvrota worker``) and the API (``python -m rvrota serve``, uvicorn, one
process) as processes of their own, both on a simulated clock that starts as the evening
does and runs at real speed. ``--checkins`` phones, each with its own device id and one
session's QR token, arrive at random (a Poisson stream: uniform over ``--seconds``, the
target's ten minutes by default) and post ``/api/v1/checkins`` over HTTP at once from one
asyncio client, no pool limit (many phones at once: as many requests in flight as have
arrived and are not answered). Measured: the answer time (request to response, at the
client; p50, p99, max), produced-to-persisted (the answer to the row in ``checkin``,
polled every 10 ms; p50, p99), how many were kept, the answers that were not 202, the
most requests in flight, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from api.checkin_tokens import issue_checkin_token  # noqa: E402
from api.security import KeyRing  # noqa: E402
from fleet import plans  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402
from fleet.models import Session  # noqa: E402
from fleet.scenario_io import import_scenario, scenario_week  # noqa: E402
from streams import kafka_local  # noqa: E402

SECRET = "bench-secret-key-for-rvrota-checkins-0123456789"
SCENARIO = REPO.parent / "shared" / "scenarios" / "taishang-week.json"
REGION = "default"
EVENING_DAY = 2  # Wednesday


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def evening_scenario(count: int) -> dict[str, Any]:
    """The Taishang week with ``count`` RVs (copies of its own, each with a cinema) and at
    least ``count`` sites (copies of its sites where it has fewer)."""
    data: dict[str, Any] = json.loads(SCENARIO.read_text())
    vehicles = data["vehicles"]
    sites = data["sites"]
    grown = []
    for i in range(count):
        v = copy.deepcopy(vehicles[i % len(vehicles)])
        v["id"] = f"RV{i + 1:02d}"
        v["name"] = f"RV {i + 1}"
        v["amenities"] = sorted(set(v.get("amenities", [])) | {"cinema"})
        grown.append(v)
    data["vehicles"] = grown
    for i in range(len(sites), count):
        s = copy.deepcopy(sites[i % len(sites)])
        s["id"] = f"{s['id']}-b{i}"
        s["name"] = f"{s.get('name', s['id'])} B{i}"
        sites.append(s)
    return data


def prepare(url: str, count: int) -> tuple[list[int], datetime]:
    """The database: the scenario imported and a plan in force with ``count`` sessions on
    one evening; their ids and the evening's start."""
    engine = make_engine(url)
    create_all(engine)
    data = evening_scenario(count)
    entries = [
        {"vehicle": v["id"], "site": s["id"], "day": EVENING_DAY, "slot": "evening"}
        for v, s in zip(data["vehicles"], data["sites"], strict=False)
    ]
    document = {"format": "rvrota.plan/1", "sessions": entries, "unserved": [], "stats": {}}
    week = scenario_week(data)
    with session_scope(engine) as db:
        import_scenario(db, data, REGION)
        outcome = plans.store_plan(
            db,
            region=REGION,
            week=week,
            plan=document,
            now=datetime.fromisoformat(data["start_date"] + "T06:00:00+08:00"),
            trigger="bench",
            hold=False,
        )
        assert outcome.published
    with session_scope(engine) as db:
        rows = db.exec(
            select(Session).where(col(Session.in_force).is_(True)).order_by(col(Session.id))
        ).all()
        ids = [int(r.id or 0) for r in rows]
        starts = {r.start for r in rows}
    engine.dispose()
    assert len(ids) == count and len(starts) == 1, (len(ids), starts)
    return ids, starts.pop()


def wait_ready(proc: subprocess.Popen[bytes], url: str, what: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited; see {log}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not get ready; see {log}")


def start(
    what: str, args: list[str], env: dict[str, str], ready: str, workdir: Path
) -> subprocess.Popen[bytes]:
    log = workdir / f"{what}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rvrota", *args],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_ready(proc, ready, what, log)
    return proc


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(45)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Poller:
    """When each check-in's row appeared in ``checkin`` (read every 10 ms, new rows only)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = 0
        query = text("SELECT id, event_id FROM checkin WHERE id > :last ORDER BY id")
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                now = time.monotonic()
                for row_id, event_id in conn.execute(query, {"last": last}):
                    self.seen.setdefault(str(event_id), now)
                    last = max(last, int(row_id))
                conn.commit()
                time.sleep(0.01)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.engine.dispose()


async def phones(
    base: str, tokens: list[str], arrivals: list[float]
) -> tuple[list[float], dict[str, float], dict[str, int], int]:
    """Every phone posts its check-in at its arrival time: the answer times, the answer
    moment of each accepted event id, the count of each answer that was not 202 and the
    most requests in flight at once."""
    answers: list[float] = []
    answered: dict[str, float] = {}
    other: dict[str, int] = {}
    flight = {"now": 0, "most": 0}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        began = time.monotonic()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, began + arrivals[i] - time.monotonic()))
            body = {"token": tokens[i % len(tokens)], "device": f"phone-{i:05d}"}
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
            t0 = time.monotonic()
            try:
                r = await client.post("/api/v1/checkins", json=body)
            except httpx.HTTPError as exc:
                other[type(exc).__name__] = other.get(type(exc).__name__, 0) + 1
                return
            finally:
                flight["now"] -= 1
            t1 = time.monotonic()
            answers.append(t1 - t0)
            if r.status_code == 202:
                answered[str(r.json()["event_id"])] = t1
            else:
                other[str(r.status_code)] = other.get(str(r.status_code), 0) + 1

        await asyncio.gather(*(one(i) for i in range(len(arrivals))))
    return answers, answered, other, flight["most"]


def run_one(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sessions, evening = prepare(url, args.sessions)
    broker = kafka_local.BrokerConfig(
        home=workdir / "kafka", port=free_port(), controller_port=free_port(), partitions=6
    )
    kafka_local.start(broker, timeout=180)
    worker = api = None
    # both clocks start at the evening's start and run at real speed
    anchor = time.time() + 5.0  # the evening starts once both are up (below)
    env = dict(os.environ)
    env.update(
        {
            "RVROTA_ENVIRONMENT": "test",
            "RVROTA_DATABASE_URL": url,
            "RVROTA_KAFKA_BOOTSTRAP": broker.bootstrap,
            "RVROTA_SECRET_KEY": SECRET,
            "RVROTA_CLOCK_START": evening.isoformat(),
            "RVROTA_CLOCK_ANCHOR": repr(anchor),
            "RVROTA_CLOCK_SPEED": "1",
            "RVROTA_LOG_LEVEL": "WARNING",
            "RVROTA_RECONCILE_SECONDS": "3600",
        }
    )
    worker_port, api_port = free_port(), free_port()
    try:
        worker = start(
            "worker",
            ["worker"],
            {**env, "RVROTA_WORKER_PORT": str(worker_port)},
            f"http://127.0.0.1:{worker_port}/readyz",
            workdir,
        )
        api = start(
            "api",
            ["serve", "--host", "127.0.0.1", "--port", str(api_port)],
            env,
            f"http://127.0.0.1:{api_port}/readyz",
            workdir,
        )
        time.sleep(max(0.0, anchor - time.time()))
        ring = KeyRing.single(SECRET)
        tokens = [issue_checkin_token(s, ring) for s in sessions]
        rng = random.Random(args.seed)
        arrivals = sorted(rng.uniform(0, args.seconds) for _ in range(args.checkins))
        load_before = os.getloadavg()
        with Poller(url) as poller:
            answers, answered, other, most = asyncio.run(
                phones(f"http://127.0.0.1:{api_port}", tokens, arrivals)
            )
            deadline = time.monotonic() + 60
            while len(poller.seen) < len(answered) and time.monotonic() < deadline:
                time.sleep(0.1)
            persisted = dict(poller.seen)
        load_after = os.getloadavg()
    finally:
        stop(api)
        stop(worker)
        kafka_local.stop(broker)
    latencies = [persisted[e] - t for e, t in answered.items() if e in persisted]
    return {
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "checkins": args.checkins,
        "sessions": len(sessions),
        "over_seconds": args.seconds,
        "answer_p50_ms": round(percentile(answers, 0.5) * 1000, 1),
        "answer_p99_ms": round(percentile(answers, 0.99) * 1000, 1),
        "answer_max_ms": round(max(answers, default=float("nan")) * 1000, 1),
        "answer_target_p99_ms": 300,
        "accepted": len(answered),
        "not_accepted": other,
        "most_in_flight": most,
        "kept": len(latencies),
        "persisted_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "persisted_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "persisted_target_p99_ms": 1000,
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in load_after],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0, help="the window (the target: 600)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = []
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        workdir = Path(tempfile.mkdtemp(prefix=f"rvrota-checkins-{backend}-"))
        if backend == "sqlite":
            results.append(run_one(f"sqlite:///{workdir / 'bench.db'}", args, workdir))
            continue
        from tests.fixtures.db import drop_postgres_database, fresh_postgres_database

        url, name = fresh_postgres_database()
        try:
            results.append(run_one(url, args, workdir))
        finally:
            drop_postgres_database(name)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
