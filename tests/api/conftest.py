"""API test harness: the app on a seeded real database (SQLite and PostgreSQL) and real Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

import tests.conftest as _root
from api.app import create_app
from core.clock import FixedClock
from core.settings import Settings
from fleet import outbox
from fleet.db import make_engine
from tests.api.seeding import NOW, PASSWORD, Seeded, seed
from tests.fixtures.db import drop_postgres_database, fresh_postgres_database

if "tests.fixtures.kafka" not in _root.pytest_plugins:
    from tests.fixtures.kafka import kafka_bootstrap  # noqa: F401
if "tests.fixtures.browser" not in _root.pytest_plugins:
    from tests.fixtures.browser import chromium, page, phone_page  # noqa: F401

TAISHANG = _root.SCENARIOS / "taishang-week.json"
SECRET = "test-secret-key-for-rvrota-api-0123456789"
METRICS_TOKEN = "test-metrics-token-0123456789"
ROLE_USERS = {"dispatcher": "dispatcher", "site_manager": "manager", "driver": "driver"}


@dataclass
class Harness:
    """A running app (in-process) on a seeded database with a token per role."""

    client: TestClient
    engine: Engine
    seeded: Seeded
    clock: FixedClock
    bootstrap: str
    url: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def login(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/token", data={"username": name, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def api_settings(url: str, bootstrap: str) -> Settings:
    return Settings(
        database_url=url,
        kafka_bootstrap=bootstrap,
        secret_key=SECRET,
        environment="test",
        metrics_token=METRICS_TOKEN,
    )


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh empty database of the given kind (real SQLite file or real PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'api.db'}"
        return
    url, name = fresh_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


@contextmanager
def running_harness(url: str, bootstrap: str, **settings: Any) -> Iterator[Harness]:
    """The app on a freshly seeded database; ``settings`` override the test settings."""
    engine = make_engine(url)
    seeded = seed(engine, TAISHANG)
    clock = FixedClock(NOW)
    app = create_app(api_settings(url, bootstrap).model_copy(update=settings), clock=clock)
    try:
        with TestClient(app) as client:
            harness = Harness(client, engine, seeded, clock, bootstrap, url)
            for role, name in ROLE_USERS.items():
                harness.headers[role] = harness.login(name)
            yield harness
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Harness]:
    """The app on the seeded sample week, once on SQLite and once on PostgreSQL."""
    with (
        database(request.param, tmp_path_factory.mktemp("api")) as url,
        running_harness(url, kafka_bootstrap) as h,
    ):
        yield h


@pytest.fixture
def sqlite_harness(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Harness]:
    """A fresh app on SQLite, for tests that change state or are not about the database."""
    with running_harness(f"sqlite:///{tmp_path / 'api.db'}", kafka_bootstrap) as h:
        yield h


async def read_topic(
    bootstrap: str, topic: str, *, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    """Every message on a topic from the beginning up to its end offsets at the time of call.

    Writes of the API are published by its relay after the answer: pass their database to
    ``topic_messages`` so that it waits for the outbox to drain; what is acknowledged
    then is below the end offsets and is read.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[tuple[bytes | None, bytes]] = []

    def keep(batch: dict[TopicPartition, list[Any]]) -> None:
        for records in batch.values():
            found.extend((r.key, r.value) for r in records if r.value is not None)

    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not consumer.assignment():  # without a group, every partition is assigned
            keep(await consumer.getmany(timeout_ms=200))
            if loop.time() > deadline:
                raise TimeoutError(f"topic {topic} has no partitions")
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        while True:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            keep(await consumer.getmany(*tps, timeout_ms=500))
    finally:
        await consumer.stop()
    return found


def outbox_drained(engine: Engine, timeout: float = 30.0) -> None:
    """Wait until the API's relay has published every accepted write (the outbox is empty)."""
    deadline = time.monotonic() + timeout
    while (depth := outbox.backlog(engine).depth) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{depth} outbox rows still unpublished after {timeout:.0f} s")
        time.sleep(0.05)


def topic_messages(
    bootstrap: str, topic: str, engine: Engine | None = None
) -> list[tuple[bytes | None, bytes]]:
    """Read a topic from a thread of its own (the caller's thread may run an event loop).

    With ``engine``, first wait until the API's relay has published what its outbox holds.
    """
    if engine is not None:
        outbox_drained(engine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read_topic(bootstrap, topic)).result()
