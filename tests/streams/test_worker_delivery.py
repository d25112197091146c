"""Delivery guarantees of the real worker: exactly one effect per event, dead letters, order.

Each test runs ``python -m rvrota worker`` as a subprocess against the session's real
broker and a fresh real database (SQLite and PostgreSQL). The planning timer is slowed
down here so that only ingest is measured.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlmodel import select

from fleet import events
from fleet.db import make_engine, session_scope
from fleet.models import HeadcountReport, Vehicle, VehicleStatusReport
from fleet.reports import latest_headcount
from tests.streams.harness import (
    TopicReader,
    WorkerProcess,
    await_until,
    started_worker,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SITES = [f"S{i:03d}" for i in range(1, 46)]
QUIET = {"RVROTA_RECONCILE_SECONDS": "3600"}


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    with started_worker(kafka_bootstrap, database_url, tmp_path, QUIET) as proc:
        yield proc


def _headcount(worker: WorkerProcess, site: str, count: int, age_s: float, eid: str) -> bytes:
    return json.dumps(
        {
            "event_id": eid,
            "site_id": site,
            "count": count,
            "observed_at": worker.at(-age_s).isoformat(),
            "source": "gate",
        }
    ).encode()


def _db_count(url: str, model: Any) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as db:
            return int(db.exec(select(func.count()).select_from(model)).one())
    finally:
        engine.dispose()


async def test_kill_9_while_streaming_every_event_has_exactly_one_effect(
    worker: WorkerProcess, database_url: str
) -> None:
    """10,000 events; the worker is killed with SIGKILL mid-stream and restarted."""
    total = 10_000
    ids = [f"kill9-{i:05d}" for i in range(total)]
    rng = random.Random(4)
    producer = AIOKafkaProducer(
        bootstrap_servers=worker.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()

    async def stream_in() -> None:
        for start in range(0, total, 250):
            sends = [
                await producer.send(
                    worker.topics.headcounts,
                    _headcount(worker, site, rng.randint(100, 2000), rng.uniform(60, 7200), eid),
                    key=site.encode(),
                )
                for eid in ids[start : start + 250]
                for site in [rng.choice(SITES)]
            ]
            await asyncio.gather(*sends)
            await asyncio.sleep(0.1)

    try:
        sender = asyncio.create_task(stream_in())
        await await_until(
            lambda: _db_count(database_url, HeadcountReport) >= 1500,
            90,
            "the worker to persist the first events",
        )
        worker.kill9()
        killed_at = _db_count(database_url, HeadcountReport)
        assert not sender.done(), "the events should still be streaming in at the kill"
        worker.start()
        await sender
    finally:
        await producer.stop()
    assert killed_at < total
    await await_until(
        lambda: _db_count(database_url, HeadcountReport) >= total,
        180,
        "every event to take effect after the restart",
        every=0.5,
    )
    await asyncio.sleep(3)  # redelivered events, if any, would land now
    engine = make_engine(database_url)
    with session_scope(engine) as db:
        stored = [str(eid) for eid in db.exec(select(HeadcountReport.event_id))]
    engine.dispose()
    assert len(stored) == total
    assert sorted(stored) == ids
    assert worker.starts == 2


def _batch_histogram(worker: WorkerProcess) -> tuple[float, float]:
    """(batches, events) of the headcount ingest agent, from the worker's /metrics."""
    topic = worker.topics.headcounts
    found = {"count": 0.0, "sum": 0.0}
    for family in text_string_to_metric_families(worker.metrics()):
        if family.name != "rvrota_ingest_batch_events":
            continue
        for sample in family.samples:
            suffix = sample.name.rsplit("_", 1)[-1]
            if sample.labels.get("topic") == topic and suffix in found:
                found[suffix] = sample.value
    return found["count"], found["sum"]


async def test_a_backlog_goes_in_large_transactions_and_a_lone_event_at_once(
    worker: WorkerProcess, database_url: str
) -> None:
    """Group commit: events already waiting share transactions; one event alone is not
    held back until a batch fills."""
    worker.stop()
    total = 3000
    rng = random.Random(11)
    async with worker.publisher() as publisher:
        producer = publisher.producer
        await asyncio.gather(
            *[
                await producer.send(
                    worker.topics.headcounts,
                    _headcount(worker, site, rng.randint(100, 2000), 600, f"backlog-{i:05d}"),
                    key=site.encode(),
                )
                for i in range(total)
                for site in [rng.choice(SITES)]
            ]
        )
    worker.start()
    await await_until(
        lambda: _db_count(database_url, HeadcountReport) >= total, 120, "the backlog persisted"
    )
    batches, handled = _batch_histogram(worker)
    assert handled == total
    assert batches <= total / 10, f"{batches:.0f} transactions for {total} waiting events"
    async with worker.publisher() as publisher:
        await publisher.producer.send_and_wait(
            worker.topics.headcounts,
            _headcount(worker, "S001", 321, 60, "lone-event"),
            key=b"S001",
        )
    await await_until(
        lambda: _db_count(database_url, HeadcountReport) == total + 1, 30, "the lone event"
    )
    assert _batch_histogram(worker) == (batches + 1, total + 1)


MALFORMED_HEADCOUNTS: list[tuple[str, Any]] = [
    ("payload", lambda w, i: b"not json " + str(i).encode()),
    ("payload", lambda w, i: json.dumps([i, "S001"]).encode()),
    ("count", lambda w, i: json.dumps({"event_id": f"m{i}", "site_id": "S001"}).encode()),
    (
        "count",
        lambda w, i: _headcount(w, "S001", 10, 60, f"m{i}").replace(
            b'"count": 10', b'"count": "x"'
        ),
    ),
    ("count", lambda w, i: _headcount(w, "S002", 100_001, 60, f"m{i}")),
    ("event_id", lambda w, i: _headcount(w, "S003", 10, 60, "e" * 129 + str(i))),
    ("observed_at", lambda w, i: _headcount(w, "S004", 10, -3600, f"m{i}")),
    ("site_id", lambda w, i: _headcount(w, "S999", 10, 60, f"m{i}")),
    (
        "payload",
        lambda w, i: _headcount(w, "S005", 10, 60, f"m{i}").replace(
            b"}", b', "pad": "' + b"x" * (65 * 1024) + b'"}'
        ),
    ),
]


def _status(
    w: WorkerProcess, vehicle: str, status: str, age_s: float, eid: str, **more: Any
) -> bytes:
    body = {
        "event_id": eid,
        "vehicle_id": vehicle,
        "status": status,
        "observed_at": w.at(-age_s).isoformat(),
        **more,
    }
    return json.dumps(body).encode()


MALFORMED_STATUSES: list[tuple[str, Any]] = [
    ("vehicle_id", lambda w, i: _status(w, "RV9", "available", 60, f"ms{i}")),
    ("status", lambda w, i: _status(w, "RV1", "flying", 60, f"ms{i}")),
    (
        "until",
        lambda w, i: _status(w, "RV1", "breakdown", 60, f"ms{i}", until=w.at(-120).isoformat()),
    ),
    ("lat", lambda w, i: _status(w, "RV1", "available", 60, f"ms{i}", lat=91.0, lon=118.0)),
    ("note", lambda w, i: _status(w, "RV1", "available", 60, f"ms{i}", note="n" * 501)),
]


async def test_malformed_events_go_to_dead_letters_and_valid_ones_take_effect(
    worker: WorkerProcess, database_url: str
) -> None:
    """1,000 malformed mixed with 1,000 valid: every bad one dead-lettered with its reason."""
    rng = random.Random(7)
    malformed: list[tuple[str, str, bytes]] = []  # (topic, field, bytes)
    for i in range(1000):
        if i % 3 == 2:
            field, make = MALFORMED_STATUSES[i % len(MALFORMED_STATUSES)]
            malformed.append((worker.topics.vehicle_status, field, make(worker, i)))
        else:
            field, make = MALFORMED_HEADCOUNTS[i % len(MALFORMED_HEADCOUNTS)]
            malformed.append((worker.topics.headcounts, field, make(worker, i)))
    valid: list[tuple[str, bytes, bytes]] = []
    for i in range(700):
        site = rng.choice(SITES)
        valid.append(
            (
                worker.topics.headcounts,
                site.encode(),
                _headcount(worker, site, 50 + i, 300, f"v{i}"),
            )
        )
    for i in range(300):
        vehicle = f"RV{1 + i % 4}"
        valid.append(
            (
                worker.topics.vehicle_status,
                vehicle.encode(),
                _status(worker, vehicle, "en_route", 300 - i * 0.1, f"vs{i}", lat=24.9, lon=118.7),
            )
        )
    mixed: list[tuple[str, bytes | None, bytes]] = [(t, b"k", v) for t, _, v in malformed]
    mixed += [(t, k, v) for t, k, v in valid]
    rng.shuffle(mixed)
    letters = TopicReader(worker.bootstrap, worker.topics.dead_letters)
    await letters.start()
    try:
        async with worker.publisher() as publisher:
            producer = publisher.producer
            await asyncio.gather(
                *[await producer.send(topic, value, key=key) for topic, key, value in mixed]
            )
        await await_until(lambda: len(letters.messages) >= 1000, 120, "1,000 dead letters")
        await asyncio.sleep(2)
    finally:
        await letters.stop()
    assert len(letters.messages) == 1000
    expected = {(topic, value): field for topic, field, value in malformed}
    seen: set[tuple[str, bytes]] = set()
    for key, raw in letters.messages:
        letter = events.DeadLetter.model_validate_json(raw)
        original = letter.original_bytes()
        assert (letter.topic, original) in expected, "a dead letter that was not sent as malformed"
        field = expected[(letter.topic, original)]
        assert letter.field == field and letter.reason.startswith(f"{field}: ")
        assert letter.partition >= 0 and letter.offset >= 0
        assert key == b"k" and base64.b64decode(letter.key or "") == b"k"
        seen.add((letter.topic, original))
    assert len(seen) == len({(t, v) for t, _, v in malformed})
    assert _db_count(database_url, HeadcountReport) == 700
    assert _db_count(database_url, VehicleStatusReport) == 300
    metrics = worker.metrics()
    dead = (
        f'rvrota_events_dead_lettered_total{{field="payload",topic="{worker.topics.headcounts}"}}'
    )
    assert dead in metrics
    # the only worker of its group holds every partition, and says so in its lag gauge
    for partition in range(3):
        held = f'partition="{partition}",topic="{worker.topics.plan_requests}"'
        assert f"rvrota_consumer_lag{{{held}}}" in metrics


async def test_out_of_order_events_newest_observed_at_wins(
    worker: WorkerProcess, database_url: str
) -> None:
    """Reports arriving out of order: the newest observed_at is the current state."""
    site = "S010"
    async with worker.publisher() as publisher:
        for count, age, eid in [
            (700, 600, "c"),
            (500, 1800, "a"),
            (900, 60, "d"),
            (600, 1200, "b"),
        ]:
            await publisher.send(
                worker.topics.headcounts, _headcount(worker, site, count, age, eid), site.encode()
            )
        # a tie on observed_at goes to the greater event id, whatever arrives first
        tie = worker.at(-30)
        for count, eid in [(111, "tie-b"), (222, "tie-a")]:
            body = json.dumps(
                {"event_id": eid, "site_id": "S011", "count": count, "observed_at": tie.isoformat()}
            ).encode()
            await publisher.send(worker.topics.headcounts, body, b"S011")
        # vehicle: maintenance (newer) arrives before available (older)
        until = worker.at(-20) + timedelta(days=1)
        await publisher.send(
            worker.topics.vehicle_status,
            _status(worker, "RV3", "maintenance", 20, "st-2", until=until.isoformat()),
            b"RV3",
        )
        await publisher.send(
            worker.topics.vehicle_status, _status(worker, "RV3", "available", 900, "st-1"), b"RV3"
        )
    engine = make_engine(database_url)

    def settled() -> bool:
        with session_scope(engine) as db:
            reports = db.exec(select(func.count()).select_from(HeadcountReport)).one()
            statuses = db.exec(select(func.count()).select_from(VehicleStatusReport)).one()
            return int(reports) == 6 and int(statuses) == 2

    await await_until(settled, 60, "all reports kept")
    with session_scope(engine) as db:
        newest = latest_headcount(db, site)
        assert newest is not None and (newest.count, newest.event_id) == (900, "d")
        tied = latest_headcount(db, "S011")
        assert tied is not None and tied.event_id == "tie-b" and tied.count == 111
        vehicle = db.get(Vehicle, "RV3")
        assert vehicle is not None and vehicle.status == "maintenance"
        assert vehicle.status_event_id == "st-2"
        assert vehicle.unavailable_until == until
    engine.dispose()
