"""Running the real worker (``python -m rvrota worker``) against the real broker and database.

Each worker gets its own consumer group and topic prefix, so tests that share the
session's broker never read each other's events, and its own free health port.
The worker and the test agree on "now" through a simulated clock (start + anchor).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.clock import SimulatedClock
from fleet.db import create_all, make_engine, session_scope
from streams.config import Topics
from streams.publish import EventPublisher
from tests.fixtures.kafka import free_port

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO.parent / "shared" / "scenarios" / "taishang-week.json"
REGION = "taishang"
WEEK = "2026-W48"
CLOCK_START = datetime.fromisoformat("2026-11-23T08:00:00+08:00")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def await_until(
    predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2
) -> Any:
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")


def prepare_database(url: str) -> Engine:
    """Tables and the Taishang sample week imported as region ``taishang``."""
    from fleet.scenario_io import import_scenario

    engine = make_engine(url)
    create_all(engine)
    with session_scope(engine) as db:
        import_scenario(db, json.loads(SCENARIO.read_text()), region=REGION)
    return engine


@dataclass
class WorkerProcess:
    """One ``rvrota worker`` subprocess and what a test needs to talk to it."""

    bootstrap: str
    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    group: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    anchor: float = field(default_factory=time.time)
    port: int = field(default_factory=free_port)
    clock_start: datetime = CLOCK_START
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(f"{self.group}.")

    @property
    def clock(self) -> SimulatedClock:
        return SimulatedClock(self.clock_start, 1.0, self.anchor)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.group}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RVROTA_ENVIRONMENT": "test",
                "RVROTA_DATABASE_URL": self.database_url,
                "RVROTA_KAFKA_BOOTSTRAP": self.bootstrap,
                "RVROTA_KAFKA_PARTITIONS": "3",
                "RVROTA_WORKER_GROUP": self.group,
                "RVROTA_TOPIC_PREFIX": f"{self.group}.",
                "RVROTA_WORKER_PORT": str(self.port),
                "RVROTA_CLOCK_START": self.clock_start.isoformat(),
                "RVROTA_CLOCK_ANCHOR": repr(self.anchor),
                "RVROTA_CLOCK_SPEED": "1",
                "RVROTA_RECONCILE_SECONDS": "1",
                "RVROTA_PLAN_TIME_LIMIT": "2",
                "RVROTA_PLAN_COALESCE_SECONDS": "1",
                "RVROTA_LOG_LEVEL": "INFO",
                "RVROTA_STOP_DRAIN_SECONDS": "30",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, ready_timeout: float = 90.0) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rvrota", "worker"],
            env=self.env(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            wait_until(self.ready, ready_timeout, "the worker's /readyz")
        except AssertionError:
            self.stop()
            raise AssertionError(f"worker did not get ready; log:\n{self.tail()}") from None

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(45)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def publisher(self) -> EventPublisher:
        return EventPublisher(self.bootstrap, topics=self.topics, linger_ms=5)

    def now(self) -> datetime:
        return self.clock.now()

    def at(self, seconds_from_now: float) -> datetime:
        return self.now() + timedelta(seconds=seconds_from_now)


@contextmanager
def started_worker(
    bootstrap: str,
    database_url: str,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    before_start: Callable[[], None] | None = None,
) -> Iterator[WorkerProcess]:
    """A worker over a freshly prepared database (``prepare_database``), stopped on exit;
    ``before_start`` runs between the two (e.g. to make the database refuse some rows)."""
    prepare_database(database_url).dispose()
    if before_start is not None:
        before_start()
    proc = WorkerProcess(bootstrap, database_url, workdir, extra_env=dict(extra_env or {}))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


class TopicReader:
    """Collects every message of a topic from the beginning, in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.messages: list[tuple[bytes | None, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=1000,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.messages.extend((r.key, r.value) for r in records if r.value is not None)

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(value) for _, value in self.messages]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


def slow_insert(database_url: str, table: str, event_id: str) -> None:
    """A trigger making the insert of ``event_id`` into ``table`` take seconds (SQLite
    or PostgreSQL)."""
    if database_url.startswith("sqlite"):
        statements = [
            "CREATE TABLE spin (x INTEGER)",
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 400) "
            "INSERT INTO spin SELECT x FROM n",
            f"CREATE TRIGGER slow_insert BEFORE INSERT ON {table} "
            f"WHEN NEW.event_id = '{event_id}' BEGIN "
            "SELECT count(*) FROM spin a, spin b, spin c WHERE a.x + b.x + c.x < 0; END",
        ]
    else:
        statements = [
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.event_id = '{event_id}' THEN PERFORM pg_sleep(3); END IF; "
            "RETURN NEW; END $$",
            f"CREATE TRIGGER slow_insert BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION slow_insert()",
        ]
    execute(database_url, statements)


def execute(database_url: str, statements: list[str]) -> None:
    """Run SQL statements in one transaction (test set-up behind the worker's back)."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def count_rows(database_url: str, table: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


async def committed_events(worker: WorkerProcess, topic: str) -> int:
    """Events of ``topic`` the worker's group has committed (offsets start at 0)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=worker.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(worker.group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)
