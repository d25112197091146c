"""Stream worker benchmark: ingest rate, produced->persisted latency, surge->re-plan latency.

One run, one broker, one database, figures side by side:

1. Sustained ingest with persistence: a backlog of N headcount events consumed by the
   worker (``python -m rvrota worker``, one process) and, next to it, by a plain aiokafka
   consumer doing the same work (parse, validate, batch-insert with the same function
   into the same database). Target: worker >= 2,000 events/s and >= 50% of plain.
2. Latency from produced to persisted at a steady 500 events/s (target p99 <= 250 ms),
   and as a reference the same with the plain consumer in a process of its own.
   Persisted times come from polling the table every 10 ms (adds <= 10 ms).
3. Headcount surge to re-published plan for the 45-site region (taishang), coalescing
   window included (target p95 <= 10 s); with ``--scenario region-150`` the live re-plan
   at 150 sites (issue 12: p95 <= the coalescing window + 1.5 s).
4. Ingest with 1% poison events, measured right after the clean rate of 1. by a fresh
   worker on the same kind of backlog: NUL in a string and in the event id, lone
   surrogates, deep nesting, values over the size limit (one of 900 KB), a 1970 time, an
   unknown site, after four poisoned runs not counted (a fresh broker's JVM compiles the
   dead-letter path in the first ones: its compiler threads' CPU is printed by kind of
   run). Target: poisoned rate >= 90% of the clean rate. Beside it, 0.1% of
   events the database itself refuses (a trigger; each batch holding one is split down
   to it), with no target.

    python bench/streams.py                       # SQLite file, private broker
    python bench/streams.py --database-url postgresql+psycopg://...   # an empty database
    python bench/streams.py --parts surge --scenario region-150       # re-plans at 150 sites
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import contextlib  # noqa: E402

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from core.clock import SimulatedClock  # noqa: E402
from fleet import events  # noqa: E402
from fleet.db import create_all, make_engine, session_scope  # noqa: E402
from streams import ingest, kafka_local  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.config import Topics  # noqa: E402

log = logging.getLogger("bench.streams")

SCENARIO = REPO.parent / "shared" / "scenarios" / "taishang-week.json"
REGION = "taishang"
WEEK = "2026-W48"
CLOCK_START = datetime.fromisoformat("2026-11-23T08:00:00+08:00")
SITES = [f"S{i:03d}" for i in range(1, 46)]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_cpu(pid: int | None) -> tuple[float, float] | None:
    """(JIT compiler threads, all other threads) CPU seconds of the broker's JVM so far,
    from /proc; None when the broker is not a local process of this machine."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    jit = rest = 0.0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue  # a thread that ended
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if "CompilerThre" in name:
            jit += used
        else:
            rest += used
    return jit, rest


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.anchor = time.time()
        self.batch_means: list[tuple[str, float, float]] = []
        self.warmup = float("nan")
        # broker CPU over each worker's life: (prefix, JIT compiler s, the rest s)
        self.broker_runs: list[tuple[str, float, float]] = []
        self.clock = SimulatedClock(CLOCK_START, 1.0, self.anchor)
        self.bootstrap = args.bootstrap
        self.broker: kafka_local.BrokerConfig | None = None
        self.database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        self.engine: Engine = make_engine(self.database_url)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.extra = dict(e.split("=", 1) for e in args.worker_env)
        self.floors: dict[str, int] = {}
        # event id, sent, plan read, the version read
        self.surge_sent: list[tuple[str, float, float, int]] = []
        self.surge_log: Path | None = None

    # --- set-up -----------------------------------------------------------------------

    def start_broker(self) -> None:
        if self.bootstrap:
            return
        self.broker = kafka_local.BrokerConfig(
            home=self.workdir / "kafka",
            port=free_port(),
            controller_port=free_port(),
            partitions=self.args.partitions,
        )
        kafka_local.start(self.broker, timeout=180)
        self.bootstrap = self.broker.bootstrap

    def prepare_database(self) -> None:
        from fleet.scenario_io import import_scenario

        create_all(self.engine)
        with session_scope(self.engine) as db:
            import_scenario(db, json.loads(SCENARIO.read_text()), region=REGION)

    def start_worker(self, group: str, extra: dict[str, str]) -> tuple[int, Topics]:
        port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "RVROTA_DATABASE_URL": self.database_url,
                "RVROTA_KAFKA_BOOTSTRAP": self.bootstrap,
                "RVROTA_KAFKA_PARTITIONS": str(self.args.partitions),
                "RVROTA_WORKER_GROUP": group,
                "RVROTA_TOPIC_PREFIX": f"{group}.",
                "RVROTA_WORKER_PORT": str(port),
                "RVROTA_CLOCK_START": CLOCK_START.isoformat(),
                "RVROTA_CLOCK_ANCHOR": repr(self.anchor),
                "RVROTA_LOG_LEVEL": "WARNING",
                **extra,
            }
        )
        log = (self.workdir / f"worker-{group}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "rvrota", "worker"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return port, Topics.with_prefix(f"{group}.")
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("worker did not get ready")

    def start_plain(self, topic: str) -> None:
        """The plain consumer (``plain_forever``) in a process of its own, like a worker."""
        log = (self.workdir / "plain-consumer.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, __file__, "--plain-consumer", topic, "--bootstrap", self.bootstrap]
            + ["--database-url", self.database_url, "--anchor", repr(self.anchor)]
            + ["--batch", str(self.args.batch)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.workers.clear()

    def close(self) -> None:
        self.stop_workers()
        self.engine.dispose()
        if self.broker is not None:
            kafka_local.stop(self.broker)

    # --- helpers ----------------------------------------------------------------------

    def headcount(self, site: str, count: int, eid: str, age_s: float = 300) -> bytes:
        observed = self.clock.now() - timedelta(seconds=age_s)
        return json.dumps(
            {"event_id": eid, "site_id": site, "count": count, "observed_at": observed.isoformat()}
        ).encode()

    def settle(self) -> None:
        """The database as each run finds it: the earlier runs' rows vacuumed and analysed
        and their WAL checkpointed now, not by autovacuum or a checkpoint during the run
        (on 2 cores either took a run from about 16,000 to about 10,000 events/s)."""
        if self.database_url.startswith("sqlite"):
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            try:
                conn.execute(text("CHECKPOINT"))
            except Exception as exc:  # noqa: BLE001 - a role that may not: vacuumed is enough
                log.warning("CHECKPOINT refused (%s); the runs may meet one", exc)

    def mark(self, prefix: str) -> None:
        """Count ``prefix`` rows only above the table's end now (a scan of the run's rows,
        not of every earlier run's); the database settled first (``settle``)."""
        self.settle()
        with self.engine.connect() as conn:
            self.floors[prefix] = int(
                conn.execute(text("SELECT coalesce(max(id), 0) FROM headcountreport")).scalar_one()
            )

    def count_like(self, prefix: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM headcountreport WHERE id > :f AND event_id LIKE :p"),
                    {"p": prefix + "%", "f": self.floors.get(prefix, 0)},
                ).scalar_one()
            )

    async def produce(self, topic: str, values: list[tuple[bytes, bytes]]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=20
        )
        await producer.start()
        try:
            for start in range(0, len(values), 2000):
                futures = [
                    await producer.send(topic, value, key=key)
                    for key, value in values[start : start + 2000]
                ]
                await asyncio.gather(*futures)
        finally:
            await producer.stop()

    def backlog(self, prefix: str, n: int) -> list[tuple[bytes, bytes]]:
        rng = random.Random(prefix)
        out = []
        for i in range(n):
            site = rng.choice(SITES)
            # counts near the sample's own figures: no material change, no re-planning
            out.append(
                (site.encode(), self.headcount(site, 500 + rng.randint(-5, 5), f"{prefix}{i:07d}"))
            )
        return out

    def rate_until(self, prefix: str, n: int, timeout: float) -> float:
        """Events/s from the first persisted event of ``prefix`` to the n-th."""
        deadline = time.monotonic() + timeout
        first_t, first_n = None, 0
        while time.monotonic() < deadline:
            done = self.count_like(prefix)
            now = time.monotonic()
            if first_t is None and done > 0:
                first_t, first_n = now, done
            if done >= n:
                assert first_t is not None
                span = max(now - first_t, 1e-6)
                return (n - first_n) / span if n > first_n else float("nan")
            time.sleep(0.1)  # rare reads: SQLite readers hold up the writer's commit
        raise RuntimeError(f"{prefix}: only {self.count_like(prefix)}/{n} persisted in time")

    # --- 1. sustained ingest ----------------------------------------------------------

    async def plain_consumer(self, topic: str, n: int) -> float:
        """The same work without Faust: parse, validate, batch-insert, commit offsets."""
        consumer = plain_kafka_consumer(self.bootstrap, topic, self.args.batch)
        await consumer.start()
        persisted = 0
        first_t: float | None = None
        first_n = 0
        try:
            while persisted < n:
                done = await plain_step(consumer, self.engine, self.clock, self.args.batch)
                if done is None:
                    continue
                persisted += done
                if first_t is None:
                    first_t, first_n = time.monotonic(), persisted
            assert first_t is not None
            return (persisted - first_n) / max(time.monotonic() - first_t, 1e-6)
        finally:
            await consumer.stop()

    async def worker_rate(self, prefix: str) -> float:
        """Events/s of a fresh worker on a clean backlog of ``--events``."""
        n = self.args.events
        group = f"bw{uuid.uuid4().hex[:6]}"
        topics = Topics.with_prefix(f"{group}.")
        # the backlog is in the topic before the worker starts, as it is for the plain
        # consumer below: neither competes with the producer for the CPU
        await ensure_topics(self.bootstrap, topics.all(), self.args.partitions)
        await self.produce(topics.headcounts, self.backlog(prefix, n))
        self.mark(prefix)
        before = broker_cpu(self.broker_pid())
        port, _ = self.start_worker(group, {"RVROTA_RECONCILE_SECONDS": "3600", **self.extra})
        rate = await asyncio.to_thread(self.rate_until, prefix, n, 600)
        self.batch_means.append((prefix, *mean_batch(port)))
        self.stop_workers()
        self.note_broker(prefix, before)
        return rate

    def broker_pid(self) -> int | None:
        return kafka_local.running_pid(self.broker) if self.broker is not None else None

    def note_broker(self, prefix: str, before: tuple[float, float] | None) -> None:
        after = broker_cpu(self.broker_pid())
        if before is not None and after is not None:
            self.broker_runs.append((prefix, after[0] - before[0], after[1] - before[1]))

    async def ingest_rates(self) -> tuple[float, float]:
        n = self.args.events
        worker_rate = await self.worker_rate("WB-")
        plain_topic = f"plain{uuid.uuid4().hex[:6]}.{events.HEADCOUNTS_TOPIC}"
        await ensure_topics(self.bootstrap, [plain_topic], self.args.partitions)
        await self.produce(plain_topic, self.backlog("PB-", n))
        plain_rate = await self.plain_consumer(plain_topic, n)
        return worker_rate, plain_rate

    def poisoned_backlog(
        self, prefix: str, n: int, share: float, kinds: str
    ) -> tuple[list[tuple[bytes, bytes]], int]:
        """A backlog like ``backlog`` with ``share`` of it poison of the given kinds (one
        letter each, in turn); (messages, valid count)."""
        clean = self.backlog(prefix, n)
        every = max(1, round(1 / share))
        out: list[tuple[bytes, bytes]] = []
        valid = 0
        for i, (key, value) in enumerate(clean):
            if i % every != every // 2:
                out.append((key, value))
                valid += 1
                continue
            kind = kinds[(i // every) % len(kinds)]
            if kind == "c":  # not poison at all: the bench's own check of itself (A/A)
                out.append((key, value))
                valid += 1
                continue
            body = json.loads(value)
            eid = f"X{prefix}{i:07d}"
            body["event_id"] = eid
            if kind == "n":  # NUL in a string
                body.update(source="gate\x00")
            elif kind == "i":  # NUL in the event id
                body.update(event_id=eid + "\x00")
            elif kind == "s":  # lone surrogate
                body.update(site_id="S\ud800")
            elif kind == "d":  # 5,000 levels of nesting
                out.append((key, b'{"event_id":"' + eid.encode() + b'","count":' + b"[" * 5000))
                continue
            elif kind == "h":  # over the size limit (the first one 900 KB)
                body.update(pad="x" * (900_000 if i < every * len(kinds) else 70_000))
            elif kind == "e":  # 1970
                body.update(observed_at="1970-01-01T00:00:00+00:00")
            elif kind == "u":  # unknown site
                body.update(site_id="S999")
            elif kind == "r":  # refused by the database (a trigger)
                body.update(event_id=f"DBREFUSE-{eid}")
            out.append((key, json.dumps(body).encode()))
        return out, valid

    def refuse_in_database(self, on: bool) -> None:
        """A trigger refusing events whose id starts DBREFUSE- (a database error caused by
        an event's content, which validation does not catch)."""
        sqlite = self.database_url.startswith("sqlite")
        if on and sqlite:
            statements = [
                "CREATE TRIGGER refuse BEFORE INSERT ON headcountreport WHEN NEW.event_id "
                "LIKE 'DBREFUSE-%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ]
        elif on:
            statements = [
                "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.event_id LIKE 'DBREFUSE-%' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$",
                "CREATE TRIGGER refuse BEFORE INSERT ON headcountreport "
                "FOR EACH ROW WHEN (NEW.event_id LIKE 'DBREFUSE-%') EXECUTE FUNCTION refuse()",
            ]
        else:
            statements = [
                "DROP TRIGGER IF EXISTS refuse" + ("" if sqlite else " ON headcountreport")
            ]
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    async def poisoned_rate(self, prefix: str, share: float, kinds: str) -> tuple[float, int, int]:
        """(events/s, poison sent, dead letters) of a fresh worker on a backlog with
        ``share`` poison; the trigger refusing DBREFUSE- ids is on for this run only, and
        only when its kinds hold ``r`` (a row trigger costs PostgreSQL about 15% of each
        batch's insert, which the clean runs it is compared with do not pay)."""
        n = self.args.events
        group = f"bp{uuid.uuid4().hex[:6]}"
        topics = Topics.with_prefix(f"{group}.")
        await ensure_topics(self.bootstrap, topics.all(), self.args.partitions)
        messages, valid = self.poisoned_backlog(prefix, n, share, kinds)
        await self.produce(topics.headcounts, messages)
        self.mark(prefix)
        refusing = "r" in kinds
        if refusing:
            self.refuse_in_database(True)
        before = broker_cpu(self.broker_pid())
        try:
            port, _ = self.start_worker(group, {"RVROTA_RECONCILE_SECONDS": "3600", **self.extra})
            rate = await asyncio.to_thread(self.rate_until, prefix, valid, 600)
            self.batch_means.append((prefix, *mean_batch(port)))
            letters = 0
            for _ in range(100):
                with self.engine.connect() as conn:
                    letters = int(
                        conn.execute(
                            text("SELECT count(*) FROM dead_letter WHERE topic = :t"),
                            {"t": topics.headcounts},
                        ).scalar_one()
                    )
                if letters >= len(messages) - valid:
                    break
                await asyncio.sleep(0.1)
            self.stop_workers()
            self.note_broker(prefix, before)
        finally:
            if refusing:
                self.refuse_in_database(False)
        return rate, len(messages) - valid, letters

    # --- 2. latency at a steady rate -----------------------------------------------------

    async def steady_latency(self, kind: str) -> tuple[list[float], float]:
        """Produced -> persisted at a steady rate, consumed by the worker or (``plain``)
        by the plain aiokafka consumer in a process of its own, doing the same work."""
        rate, seconds = self.args.rate, self.args.seconds
        group = f"bl{uuid.uuid4().hex[:6]}"
        tag = "L" if kind == "worker" else "P"
        if kind == "worker":
            _, topics = self.start_worker(group, {"RVROTA_RECONCILE_SECONDS": "3600", **self.extra})
        else:
            topics = Topics.with_prefix(f"{group}.")
            await ensure_topics(self.bootstrap, [topics.headcounts], self.args.partitions)
            self.start_plain(topics.headcounts)
        await self.produce(topics.headcounts, self.backlog(f"{tag}W-", 100))
        await asyncio.to_thread(self.rate_until, f"{tag}W-", 100, 60)
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        # the first --warmup seconds at the same rate settle the group (its first rebalance,
        # table recovery) and are left out of the figures
        skip = int(rate * self.args.warmup)
        total = skip + int(rate * seconds)
        with self.engine.connect() as conn:
            last_id = int(
                conn.execute(text("SELECT coalesce(max(id), 0) FROM headcountreport")).scalar_one()
            )
        stop = asyncio.Event()

        def poll() -> None:
            nonlocal last_id
            while not stop.is_set() or len(seen) < total:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        text("SELECT id, event_id FROM headcountreport WHERE id > :i"),
                        {"i": last_id},
                    ).all()
                t = time.perf_counter()
                for row_id, eid in rows:
                    last_id = max(last_id, int(row_id))
                    seen.setdefault(str(eid), t)
                if stop.is_set() and len(seen) >= total:
                    return
                time.sleep(0.01)

        poller = asyncio.create_task(asyncio.to_thread(poll))
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=0
        )
        await producer.start()
        rng = random.Random(2)
        started = time.perf_counter()
        pending = []
        for i in range(total):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            site = rng.choice(SITES)
            eid = f"{tag}-{i:07d}"
            sent[eid] = time.perf_counter()
            pending.append(
                await producer.send(
                    topics.headcounts, self.headcount(site, 500, eid), key=site.encode()
                )
            )
        await asyncio.gather(*pending)
        achieved = total / (time.perf_counter() - started)
        await producer.stop()
        stop.set()
        await asyncio.wait_for(poller, 120)
        self.stop_workers()
        measured = [f"{tag}-{i:07d}" for i in range(skip, total)]
        return [(seen[e] - sent[e]) * 1000 for e in measured if e in seen], achieved

    # --- 3. surge -> re-published plan ------------------------------------------------------

    async def surge_latency(self) -> list[float]:
        group = f"bs{uuid.uuid4().hex[:6]}"
        _, topics = self.start_worker(
            group,
            {
                "RVROTA_RECONCILE_SECONDS": "2",
                "RVROTA_PLAN_TIME_LIMIT": str(self.args.plan_time_limit),
                # the worker's timeline lines (streams.timeline) split each surge's latency
                "RVROTA_LOG_LEVEL": "INFO",
                "RVROTA_LOG_JSON": "1",
                **self.extra,
            },
        )
        consumer = AIOKafkaConsumer(
            topics.plans, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        versions: dict[str, int] = {}
        arrivals: list[tuple[float, dict[str, Any]]] = []
        read_at: list[tuple[float, dict[str, Any]]] = []

        async def read() -> None:
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                for rs in batch.values():
                    for r in rs:
                        plan = json.loads(r.value or b"{}")
                        arrivals.append((time.perf_counter(), plan))
                        read_at.append((time.time(), plan))
                        versions[plan["week"]] = max(versions.get(plan["week"], 0), plan["version"])

        reader = asyncio.create_task(read())

        async def wait_for(check: Callable[[], bool], timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while not check():
                if time.monotonic() > deadline:
                    raise RuntimeError("timed out waiting for plans")
                await asyncio.sleep(0.05)

        await wait_for(lambda: WEEK in versions and "2026-W49" in versions, 180)
        await asyncio.sleep(3)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        rng = random.Random(9)
        latencies = []
        try:
            for i in range(self.args.surges):
                site = rng.choice(SITES)
                with session_scope(self.engine) as db:
                    from fleet.plans import plan_in_force

                    plan = plan_in_force(db, REGION, WEEK)
                    assert plan is not None
                    used = {s["id"]: s["headcount"] for s in (plan.scenario or {})["sites"]}
                new_count = used[site] * 3 + 100 if used[site] < 3000 else max(used[site] // 3, 10)
                before_w48 = versions.get(WEEK, 0)
                before_w49 = versions.get("2026-W49", 0)
                t0 = time.perf_counter()
                sent_at = time.time()
                await producer.send_and_wait(
                    topics.headcounts,
                    self.headcount(site, new_count, f"surge-{i}", age_s=5),
                    key=site.encode(),
                )
                await wait_for(lambda b=before_w48: versions.get(WEEK, 0) > b, 120)  # type: ignore[misc]
                t1 = next(t for t, p in arrivals if p["week"] == WEEK and p["version"] > before_w48)
                latencies.append(t1 - t0)
                t1_wall, first = next(
                    (t, p) for t, p in read_at if p["week"] == WEEK and p["version"] > before_w48
                )
                self.surge_sent.append((f"surge-{i}", sent_at, t1_wall, int(first["version"])))
                # let the next week's re-plan finish so that surges do not queue behind it
                await wait_for(lambda b=before_w49: versions.get("2026-W49", 0) > b, 120)  # type: ignore[misc]
                await asyncio.sleep(1.0)
        finally:
            reader.cancel()
            await producer.stop()
            await consumer.stop()
            self.stop_workers()
            self.surge_log = self.workdir / f"worker-{group}.log"
        return latencies


SURGE_STAGES = [
    ("broker -> ingest agent", "sent", "received"),
    ("headcount persisted", "received", "persisted"),
    ("change check (plan requests decided)", "persisted", "checked"),
    ("plan request produced", "checked", "requested"),
    ("coalescing window + consume", "requested", "batch"),
    ("jobs ahead in the batch", "batch", "started"),
    ("asks read + still-needed check", "started", "needed"),
    ("scenario built from the database", "stage:build", ""),
    ("scenario parsed", "stage:parse", ""),
    ("solve (optimiser)", "stage:optimise", ""),
    ("travel table, checks, stats, reasons", "stage:finish", ""),
    ("plan in force judged", "stage:previous", ""),
    ("plan document", "stage:document", ""),
    ("plan stored (+ outbox)", "stage:store", ""),
    ("thread hand-over", "stage:thread", ""),
    ("published on the topic", "planned", "published"),
    ("topic -> bench consumer", "published", "read"),
]


def surge_breakdown(
    log_path: Path, sent: list[tuple[str, float, float, int]]
) -> list[dict[str, float]]:
    """Each surge's stages (seconds) from the worker's timeline lines (``streams.timeline``).

    The ingest line is the one naming the surge's event; the plan line is the one of the
    version the bench read first (the timer may have asked for it before the event did:
    then the coalescing stage is negative).
    """
    ingests: dict[str, dict[str, float]] = {}
    plans: dict[int, dict[str, Any]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        msg = str(entry.get("msg", "")) if isinstance(entry, dict) else ""
        if not msg.startswith("rvrota timeline "):
            continue
        item = json.loads(msg.removeprefix("rvrota timeline "))
        if item["kind"] == "headcounts":
            for cause in item["causes"]:
                ingests.setdefault(cause, item["marks"])
        elif item["kind"] == "plan" and item.get("week") == WEEK and "published" in item["marks"]:
            plans[int(item["version"])] = item
    rows = []
    for event_id, sent_at, read_at, version in sent:
        ingest_marks = ingests.get(event_id)
        plan = plans.get(version)
        if ingest_marks is None or plan is None:
            continue
        stages = dict(plan["stages"])
        marks = {**ingest_marks, **plan["marks"], "sent": sent_at, "read": read_at}
        marks["batch"] = marks.pop("received")
        marks["received"] = ingest_marks["received"]
        stages["finish"] = stages.get("solve_plan", 0.0) - stages.get("optimise", 0.0)
        inner = sum(stages.get(k, 0.0) for k in ("build", "solve_plan", "previous", "document"))
        inner += stages.get("parse", 0.0) + stages.get("store", 0.0)
        stages["thread"] = marks["planned"] - marks["needed"] - inner
        row: dict[str, float] = {}
        for name, start, end in SURGE_STAGES:
            if start.startswith("stage:"):
                row[name] = stages.get(start.removeprefix("stage:"), 0.0)
            else:
                row[name] = marks[end] - marks[start]
        row["total"] = read_at - sent_at
        rows.append(row)
    return rows


def print_breakdown(rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    print(f"\nsurge -> re-published plan, by stage (n={len(rows)}; seconds)")
    print(f"{'stage':<46} {'p50':>7} {'p95':>7} {'max':>7} {'mean':>7}")
    for name in [n for n, _, _ in SURGE_STAGES] + ["total"]:
        values = [r[name] for r in rows]
        print(
            f"{name:<46} {percentile(values, 50):>7.3f} {percentile(values, 95):>7.3f} "
            f"{max(values):>7.3f} {sum(values) / len(values):>7.3f}"
        )


class Poisoning:
    """The poisoned runs: rate, poison sent, letters kept, and the clean neighbours."""

    def __init__(self) -> None:
        self.runs: dict[str, list[tuple[float, int, int]]] = {}
        self.ratios: list[tuple[str, float]] = []
        self.cleans: list[float] = []

    def add(self, kind: str, run: tuple[float, int, int], before: float, after: float) -> None:
        self.runs.setdefault(kind, []).append(run)
        self.ratios.append((kind, run[0] / ((before + after) / 2)))

    def ratio(self, kind: str) -> float:
        found = [r for k, r in self.ratios if k == kind]
        return sum(found) / len(found) if found else float("nan")

    def rate(self, kind: str) -> float:
        found = [run[0] for run in self.runs.get(kind, [])]
        return sum(found) / len(found) if found else float("nan")

    def letters(self, kind: str) -> str:
        runs = self.runs.get(kind, [])
        return f"{sum(r[2] for r in runs):,} / {sum(r[1] for r in runs):,}"

    def all_kept(self) -> bool:
        return all(r[1] == r[2] for runs in self.runs.values() for r in runs) and bool(self.runs)


def plain_kafka_consumer(bootstrap: str, topic: str, batch: int) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"plain-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=batch,
    )


async def plain_step(
    consumer: AIOKafkaConsumer, engine: Engine, clock: SimulatedClock, batch: int
) -> int | None:
    """One round of the plain consumer: getmany, parse and validate, persist with the
    worker's function, commit. Events newly persisted; None when nothing came."""
    fetched = await consumer.getmany(timeout_ms=100, max_records=batch)
    records = [r for rs in fetched.values() for r in rs]
    if not records:
        return None
    now = clock.now()
    items = []
    for record in records:
        with contextlib.suppress(events.EventRejected):
            items.append(events.parse_headcount_event(record.value or b"", now))

    def work() -> int:
        with session_scope(engine) as db:
            return len(ingest.persist_headcounts(db, items, now).new)

    persisted = await asyncio.get_running_loop().run_in_executor(None, work)
    await consumer.commit()
    return persisted


async def plain_forever(args: argparse.Namespace) -> int:
    """The plain consumer of the latency reference (``plain_step``), until SIGTERM."""
    engine = make_engine(args.database_url)
    clock = SimulatedClock(CLOCK_START, 1.0, float(args.anchor))
    consumer = plain_kafka_consumer(args.bootstrap, args.plain_consumer, args.batch)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.start()
    try:
        while not stop.is_set():
            await plain_step(consumer, engine, clock, args.batch)
    finally:
        await consumer.stop()
        engine.dispose()
    return 0


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="rvrota-bench-"))
    bench = Bench(args, workdir)
    try:
        bench.start_broker()
        bench.prepare_database()
        db_kind = bench.database_url.split(":", 1)[0]
        print(
            f"broker {bench.bootstrap}, database {db_kind}, partitions {args.partitions}, "
            f"2 cores shared; work dir {workdir}"
        )
        parts = set(args.parts.split(","))
        if "ingest" in parts or "poison" in parts:
            # the first worker on an empty database ran faster than the next ones in 13 of
            # 18 runs (its table and indexes still in a few pages): not counted
            bench.warmup = await bench.worker_rate("WW-")
        if "poison" in parts:
            # poisoned runs not counted: a fresh broker's JVM is still compiling (its C2
            # compiler thread took 0.3-0.75 s of CPU in the first poisoned runs, 0.1-0.2 s
            # in clean ones), and the dead-letter path is new code to it; a broker that
            # has run for a while has compiled it
            for w in range(args.poison_warmups):
                await bench.poisoned_rate(f"WQ{w}-", args.poison, args.poison_kinds)
        worker_rate, plain_rate = (
            await bench.ingest_rates() if "ingest" in parts else (float("nan"), float("nan"))
        )
        latencies, achieved = (
            await bench.steady_latency("worker") if "latency" in parts else ([], float("nan"))
        )
        plain_latencies, plain_achieved = (
            await bench.steady_latency("plain") if "latency" in parts else ([], float("nan"))
        )
        # the poisoned runs, each between two clean runs of fresh workers: the machine is
        # shared, so each poisoned rate is compared with the mean of its neighbours
        poison = Poisoning()
        if "poison" in parts:
            cleans = [worker_rate]
            for r in range(args.poison_rounds):
                run_ = await bench.poisoned_rate(f"WP{r}-", args.poison, args.poison_kinds)
                cleans.append(await bench.worker_rate(f"WA{r}-"))
                poison.add("poison", run_, cleans[-2], cleans[-1])
            if args.refused > 0:  # --refused 0: no run of events the database refuses
                run_ = await bench.poisoned_rate("WR-", args.refused, "r")
                cleans.append(await bench.worker_rate("WZ-"))
                poison.add("refused", run_, cleans[-2], cleans[-1])
            poison.cleans = cleans
        surges = await bench.surge_latency() if "surge" in parts else []
    finally:
        bench.close()
    breakdown = surge_breakdown(bench.surge_log, bench.surge_sent) if bench.surge_log else []
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    q50, q99 = percentile(plain_latencies, 50), percentile(plain_latencies, 99)
    s50, s95 = percentile(surges, 50), percentile(surges, 95)
    worker_env = dict(e.split("=", 1) for e in args.worker_env)
    window = float(
        worker_env.get(
            "RVROTA_PLAN_COALESCE_SECONDS", os.environ.get("RVROTA_PLAN_COALESCE_SECONDS", "2")
        )
    )
    ratio = worker_rate / plain_rate if plain_rate else float("nan")
    kept = poison.ratio("poison")
    kept_refused = poison.ratio("refused")
    rows = [
        (
            "ingest, worker (1 process)",
            f"{worker_rate:,.0f} events/s",
            ">= 2,000 events/s",
            worker_rate >= 2000,
        ),
        ("ingest, plain aiokafka consumer", f"{plain_rate:,.0f} events/s", "-", None),
        ("worker / plain", f"{ratio:.0%}", ">= 50%", ratio >= 0.5),
        (
            f"ingest, worker, {args.poison:.0%} poison (mean)",
            f"{poison.rate('poison'):,.0f} events/s",
            "-",
            None,
        ),
        ("poisoned / clean (each / its neighbours)", f"{kept:.0%}", ">= 90%", kept >= 0.9),
        ("  dead letters / poison sent", poison.letters("poison"), "all", poison.all_kept()),
        (
            f"ingest, worker, {args.refused:.1%} refused by the db",
            f"{poison.rate('refused'):,.0f} events/s",
            "-",
            None,
        ),
        ("  refused-by-db / clean", f"{kept_refused:.0%}", "-", None),
        ("  dead letters / refused sent", poison.letters("refused"), "all", poison.all_kept()),
        (f"produced->persisted p50 @ {achieved:,.0f}/s", f"{p50:,.0f} ms", "-", None),
        (f"produced->persisted p99 @ {achieved:,.0f}/s", f"{p99:,.0f} ms", "<= 250 ms", p99 <= 250),
        (f"  plain consumer p50 @ {plain_achieved:,.0f}/s", f"{q50:,.0f} ms", "-", None),
        (f"  plain consumer p99 @ {plain_achieved:,.0f}/s", f"{q99:,.0f} ms", "-", None),
        (f"surge->re-published plan p50 (n={len(surges)})", f"{s50:.2f} s", "-", None),
        (f"surge->re-published plan p95 (n={len(surges)})", f"{s95:.2f} s", "<= 10 s", s95 <= 10),
        (
            f"  {args.scenario}: p95 <= window + 1.5 s",
            f"{s95:.2f} s",
            f"<= {window + 1.5:.1f} s",
            s95 <= window + 1.5,
        ),
    ]
    print()
    print(f"{'measure':<46} {'measured':>18} {'target':>18}  met")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<46} {value:>18} {target:>18}  {mark}")
    if bench_means := bench.batch_means:
        print(
            "\n(events per batch, mean, and events handled, by run: "
            + ", ".join(f"{prefix.rstrip('-')} {m:,.0f} ({n:,.0f})" for prefix, m, n in bench_means)
            + ")"
        )
    if poison.cleans:
        print(
            f"\n(warm-up run, not counted: {bench.warmup:,.0f}; clean runs in order: "
            + ", ".join(f"{c:,.0f}" for c in poison.cleans)
            + " events/s; poisoned / neighbours: "
            + ", ".join(f"{kind} {r:.0%}" for kind, r in poison.ratios)
            + ")"
        )
    if broker_line := broker_summary(bench.broker_runs):
        print(broker_line)
    print(
        f"\n(latency samples {len(latencies)}, surge samples {[round(s, 2) for s in surges]}, "
        f"plan time limit {args.plan_time_limit} s, coalescing {window:g} s, "
        f"batch {args.batch}, scenario {args.scenario}, load {os.getloadavg()[0]:.1f})"
    )
    print_breakdown(breakdown)
    return 0


def broker_summary(runs: list[tuple[str, float, float]]) -> str:
    """The broker's CPU over the measured workers' lives, JIT compiler and the rest, mean
    by kind of run (clean WB/WA, poisoned WP, warm-up poisoned WQ)."""
    kinds = {"WB": "clean", "WA": "clean", "WP": "poisoned", "WQ": "poisoned warm-up"}
    by: dict[str, list[tuple[float, float]]] = {}
    for prefix, jit, rest in runs:
        kind = kinds.get(prefix[:2])
        if kind:
            by.setdefault(kind, []).append((jit, rest))
    if not by:
        return ""
    parts = [
        f"{kind} {sum(j for j, _ in v) / len(v):.2f} + {sum(r for _, r in v) / len(v):.2f} s"
        for kind, v in by.items()
    ]
    return "\n(broker CPU per run, mean, JIT compiler + the rest: " + "; ".join(parts) + ")"


def mean_batch(port: int) -> tuple[float, float]:
    """(mean events per ingest batch, events handled) so far, from the worker's /metrics:
    more handled than sent means some were read twice."""
    import httpx

    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return float("nan"), float("nan")
    total = count = 0.0
    for line in body.splitlines():
        if line.startswith("rvrota_ingest_batch_events_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("rvrota_ingest_batch_events_count"):
            count += float(line.rsplit(" ", 1)[1])
    return (total / count if count else float("nan")), total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="", help="use this broker instead of a private one")
    parser.add_argument("--database-url", default="", help="an EMPTY database (default: SQLite)")
    parser.add_argument("--events", type=int, default=100_000, help="backlog for the ingest rate")
    parser.add_argument("--rate", type=float, default=500.0, help="steady events/s for latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the steady run")
    parser.add_argument("--warmup", type=float, default=10.0, help="steady seconds not measured")
    parser.add_argument("--surges", type=int, default=10, help="surges for the re-plan latency")
    parser.add_argument("--plan-time-limit", type=float, default=5.0)
    parser.add_argument(
        "--scenario", default="taishang-week", help="shared/scenarios file of the region"
    )
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--worker-env", action="append", default=[], help="NAME=VALUE for the worker (repeat)"
    )
    parser.add_argument("--poison", type=float, default=0.01, help="share of poison events")
    parser.add_argument(
        "--poison-rounds",
        type=int,
        default=8,
        help="poisoned runs (one moves by +-10-15%% against its neighbours: 8 for a figure)",
    )
    parser.add_argument(
        "--poison-warmups",
        type=int,
        default=4,
        help="poisoned runs before the measured ones, not counted (the broker's JIT warm-up)",
    )
    parser.add_argument(
        "--poison-kinds",
        default="nisdheu",
        help="kinds of poison, in turn: n NUL, i NUL in the id, s surrogate, d deep, "
        "h huge, e 1970, u unknown site; c is a clean event (the bench checking itself)",
    )
    parser.add_argument(
        "--refused", type=float, default=0.001, help="share the database refuses (a trigger)"
    )
    parser.add_argument(
        "--parts", default="ingest,poison,latency,surge", help="which measures to run"
    )
    parser.add_argument("--batch", type=int, default=1000, help="plain consumer's batch size")
    parser.add_argument("--plain-consumer", default="", help=argparse.SUPPRESS)
    parser.add_argument("--anchor", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.poison <= 1:
        parser.error("--poison: a share above 0 and at most 1")
    if not 0 <= args.refused <= 1:
        parser.error("--refused: a share from 0 to 1 (0: no such run)")
    global SCENARIO, SITES
    SCENARIO = SCENARIO.with_name(f"{args.scenario}.json")
    SITES = [str(s["id"]) for s in json.loads(SCENARIO.read_text())["sites"]]
    if args.plain_consumer:
        return asyncio.run(plain_forever(args))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
