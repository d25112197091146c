"""Scale-out benchmark: one worker against two in one consumer group, and a takeover.

One run, one private broker, figures side by side:

1. Planning throughput: R small regions are imported and a plan is asked for each;
   the worker(s) plan the current and the next week of every region. Plans stored
   per second with one worker process, then with two in one consumer group (the
   regions spread over the partitions by their key).
2. Takeover: with two workers, one is killed with SIGKILL while a material
   headcount change arrives for every region. Time until the group is stable
   with one member, and until every region holds a new plan.

    python bench/scale.py                              # SQLite files, private broker
    python bench/scale.py --database-url postgresql+psycopg://...   # admin URL: a fresh
                                                       # database is made per configuration
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from aiokafka.partitioner import murmur2  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from fleet.db import make_engine, session_scope  # noqa: E402
from fleet.migrate import upgrade  # noqa: E402
from fleet.scenario_io import import_scenario  # noqa: E402
from streams import kafka_local  # noqa: E402

START = "2026-11-23T06:00:00+08:00"
WEEK = "2026-W48"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def partition_of(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def region_names(count: int, partitions: int) -> list[str]:
    """``count`` region ids spread as evenly as possible over the partitions."""
    per = -(-count // partitions)
    chosen: list[str] = []
    load = dict.fromkeys(range(partitions), 0)
    i = 0
    while len(chosen) < count:
        name = f"region-{i:03d}"
        p = partition_of(name, partitions)
        if load[p] < per:
            chosen.append(name)
            load[p] += 1
        i += 1
    return chosen


def region_scenario(region: str, sites: int, vehicles: int) -> dict[str, Any]:
    return {
        "format": "rvrota.scenario/1",
        "name": region,
        "timezone": "Asia/Shanghai",
        "start_date": "2026-11-23",
        "days": 7,
        "slots": [
            {"id": "lunch", "start": "11:30", "end": "13:30"},
            {"id": "evening", "start": "18:00", "end": "21:00"},
        ],
        "setup_minutes": 30,
        "travel": {"model": "haversine", "speed_kmh": 30, "circuity": 1.3},
        "depots": [{"id": f"{region}-D1", "lat": 24.93, "lon": 118.73}],
        "sites": [
            {
                "id": f"{region}-S{k:02d}",
                "lat": 24.88 + 0.007 * (k % 7),
                "lon": 118.68 + 0.009 * (k // 7),
                "headcount": 80 + 37 * k,
                "min_gap_days": 1,
                "min_visits": 1 if k % 3 == 0 else 0,
            }
            for k in range(1, sites + 1)
        ],
        "vehicles": [
            {"id": f"{region}-RV{v}", "depot": f"{region}-D1", "max_drive_minutes": 240}
            for v in range(1, vehicles + 1)
        ],
    }


# --- database --------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str | None, folder: Path, label: str) -> Iterator[str]:
    if admin_url is None:
        yield f"sqlite:///{folder / (label + '.db')}"
        return
    admin = make_url(admin_url)
    name = f"rvrota_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def plan_counts(url: str) -> dict[tuple[str, str], int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT region_id, week, max(version) FROM plan GROUP BY region_id, week")
            ).all()
    finally:
        engine.dispose()
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


# --- Kafka -----------------------------------------------------------------------------


async def group_members(bootstrap: str, group: str) -> int | None:
    """Members of a stable group (None while it rebalances or is unknown)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        brokers = admin._client.cluster.brokers()  # noqa: SLF001 - one broker: the coordinator
        coordinator = next(iter(brokers)).nodeId if len(brokers) == 1 else None
        responses = await admin.describe_consumer_groups([group], coordinator)
    except Exception:  # noqa: BLE001 - not there yet
        return None
    finally:
        await admin.close()
    for response in responses:
        for described in response.to_object()["groups"]:
            if described["group"] == group and described["state"] == "Stable":
                return len(described["members"])
    return None


async def produce(bootstrap: str, messages: list[tuple[str, str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, json.dumps(value).encode(), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


# --- one configuration -----------------------------------------------------------------


@dataclass
class Result:
    workers: int
    regions: int
    plans: int
    seconds: float
    group_stable_after_kill: float | None = None
    replanned_after_kill: float | None = None
    stalled: str | None = None

    @property
    def rate(self) -> float:
        return self.plans / self.seconds if self.seconds > 0 else 0.0


class Stalled(RuntimeError):
    """Something the bench waits for did not happen in time (printed as a figure)."""


def wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise Stalled(f"{what}: not within {timeout:.0f} s")


def run_configuration(
    workers: int,
    regions: list[str],
    args: argparse.Namespace,
    bootstrap: str,
    folder: Path,
    kill_one: bool,
) -> Result:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench{run}."
    group = f"rvrota-bench-{run}"
    with fresh_database(args.database_url, folder, f"w{workers}") as url:
        upgrade(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RVROTA_")}
        env.update(
            RVROTA_ENVIRONMENT="test",
            RVROTA_DATABASE_URL=url,
            RVROTA_KAFKA_BOOTSTRAP=bootstrap,
            RVROTA_KAFKA_PARTITIONS=str(args.partitions),
            RVROTA_TOPIC_PREFIX=prefix,
            RVROTA_WORKER_GROUP=group,
            RVROTA_CLOCK_START=START,
            RVROTA_CLOCK_SPEED="1",
            RVROTA_CLOCK_ANCHOR=repr(time.time()),
            RVROTA_PLAN_TIME_LIMIT=str(args.plan_time_limit),
            RVROTA_PLAN_COALESCE_SECONDS="0.5",
            RVROTA_RECONCILE_SECONDS="5",
            RVROTA_LOG_LEVEL=args.log_level,
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(workers):
                log = (folder / f"w{workers}-{i}.log").open("wb")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "rvrota", "worker"],
                        env={**env, "RVROTA_WORKER_PORT": str(free_port())},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            wait(
                lambda: asyncio.run(group_members(bootstrap, group)) == workers,
                180,
                f"a stable group of {workers}",
            )
            engine = make_engine(url)
            try:
                with session_scope(engine) as db:
                    for region in regions:
                        import_scenario(
                            db, region_scenario(region, args.sites, args.vehicles), region
                        )
            finally:
                engine.dispose()
            expected = {(r, w) for r in regions for w in (WEEK, "2026-W49")}
            started = time.monotonic()
            requests = [
                (
                    prefix + "rvrota.plan-requests",
                    region,
                    {
                        "region": region,
                        "week": WEEK,
                        "reason": "bench",
                        "requested_at": START,
                        "cause_event_id": None,
                    },
                )
                for region in regions
            ]
            asyncio.run(produce(bootstrap, requests))
            wait(lambda: set(plan_counts(url)) >= expected, 900, "a plan for every region-week")
            result = Result(workers, len(regions), len(expected), time.monotonic() - started)
            if not kill_one:
                return result

            before = plan_counts(url)
            observed = (datetime.fromisoformat(START) + timedelta(minutes=1)).isoformat()
            surges = [
                (
                    prefix + "rvrota.site-headcounts",
                    f"{region}-S01",
                    {
                        "event_id": str(uuid.uuid4()),
                        "site_id": f"{region}-S01",
                        "count": 5000,
                        "observed_at": observed,
                        "source": "gate",
                    },
                )
                for region in regions
            ]
            killed = time.monotonic()
            os.killpg(procs[-1].pid, signal.SIGKILL)
            procs[-1].wait(10)
            asyncio.run(produce(bootstrap, surges))
            wait(
                lambda: asyncio.run(group_members(bootstrap, group)) == 1,
                180,
                "the group stable with one member",
            )
            result.group_stable_after_kill = time.monotonic() - killed

            def replanned() -> bool:
                now = plan_counts(url)
                return all(now.get((r, WEEK), 0) > before[(r, WEEK)] for r in regions)

            try:
                wait(replanned, args.takeover_timeout, "every region re-planned after the kill")
                result.replanned_after_kill = time.monotonic() - killed
            except Stalled as exc:
                now = plan_counts(url)
                done = sum(now.get((r, WEEK), 0) > before[(r, WEEK)] for r in regions)
                result.stalled = f"{exc} ({done} of {len(regions)} regions re-planned)"
            return result
        finally:
            for proc in procs:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--sites", type=int, default=12, help="sites per region")
    parser.add_argument("--vehicles", type=int, default=2, help="RVs per region")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--plan-time-limit", type=float, default=2.0)
    parser.add_argument("--database-url", default=None, help="PostgreSQL admin URL")
    parser.add_argument("--log-level", default="WARNING", help="the workers' log level")
    parser.add_argument("--takeover-timeout", type=float, default=180.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep worker logs in this folder")
    args = parser.parse_args()

    def _interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # run the clean-up: workers, broker, databases

    signal.signal(signal.SIGTERM, _interrupt)
    regions = region_names(args.regions, args.partitions)
    with tempfile.TemporaryDirectory(prefix="rvrota-bench-scale-") as tmp:
        folder = Path(tmp) if args.keep is None else args.keep
        folder.mkdir(parents=True, exist_ok=True)
        broker = kafka_local.BrokerConfig(
            home=folder / "kafka",
            port=free_port(),
            controller_port=free_port(),
            partitions=args.partitions,
        )
        kafka_local.start(broker, timeout=180)
        try:
            one = run_configuration(1, regions, args, broker.bootstrap, folder, kill_one=False)
            two = run_configuration(2, regions, args, broker.bootstrap, folder, kill_one=True)
        finally:
            kafka_local.stop(broker)

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"scale-out: {args.regions} regions x {args.sites} sites x {args.vehicles} RVs, "
        f"{args.partitions} partitions, plan time limit {args.plan_time_limit:g} s, "
        f"{database}, {os.cpu_count()} CPUs"
    )
    print(f"{'workers':>8} {'plans':>6} {'seconds':>8} {'plans/s':>8}")
    for result in (one, two):
        print(f"{result.workers:>8} {result.plans:>6} {result.seconds:>8.1f} {result.rate:>8.2f}")
    print(f"two workers / one worker: {two.rate / one.rate:.2f}x plans/s")
    if two.replanned_after_kill is not None:
        replanned = f"every region re-planned after {two.replanned_after_kill:.1f} s"
    else:
        replanned = f"STALLED: {two.stalled}"
    print(
        f"takeover after SIGKILL of one of two: group stable again after "
        f"{two.group_stable_after_kill:.1f} s, {replanned} (broker session timeout 10 s)"
    )


if __name__ == "__main__":
    main()
