"""The worker's /readyz against the real broker: a stalled ingest partition turns it
not ready, a partition whose old events were deleted by retention does not.

The stall limit (``RVROTA_READY_STALL_SECONDS``) is 2 s here. A stall is made for real:
a database trigger refuses every headcount insert, so the worker retries its batch and
the partition's position stays put with events waiting behind it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from streams.admin import ensure_topics
from tests.streams.harness import (
    WorkerProcess,
    await_until,
    count_rows,
    execute,
    prepare_database,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STALL_SECONDS = 2


def _headcount(worker: WorkerProcess, site: str, eid: str) -> bytes:
    observed = worker.at(-120).isoformat()
    return json.dumps(
        {"event_id": eid, "site_id": site, "count": 400, "observed_at": observed}
    ).encode()


def _readyz(worker: WorkerProcess) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"http://127.0.0.1:{worker.port}/readyz", timeout=5)
    return response.status_code, response.json()


def _persisted(database_url: str) -> int:
    return count_rows(database_url, "headcountreport")


def _block_inserts(database_url: str, blocked: bool) -> None:
    """Make every insert into headcountreport fail for the database's own reason, not an
    event's: the table is renamed away (a missing table; SQLite or PostgreSQL). A trigger
    refusing inserts would be a content error now, and its events dead letters."""
    if blocked:
        statements = ["ALTER TABLE headcountreport RENAME TO headcountreport_away"]
    else:
        statements = ["ALTER TABLE headcountreport_away RENAME TO headcountreport"]
    execute(database_url, statements)


@pytest.fixture
async def worker(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> AsyncIterator[WorkerProcess]:
    prepare_database(database_url).dispose()
    proc = WorkerProcess(
        kafka_bootstrap,
        database_url,
        tmp_path,
        extra_env={
            "RVROTA_RECONCILE_SECONDS": "3600",
            "RVROTA_READY_STALL_SECONDS": str(STALL_SECONDS),
        },
    )
    try:
        yield proc
    finally:
        proc.stop()


async def test_a_partition_emptied_by_retention_is_not_a_stall(worker: WorkerProcess) -> None:
    """Events deleted before the worker ever read them are not waiting for it."""
    await ensure_topics(worker.bootstrap, worker.topics.all(), 3)
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(
                worker.topics.headcounts, _headcount(worker, "S001", f"gone-{i}"), partition=0
            )
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=worker.bootstrap)
    await admin.start()
    try:
        tp = TopicPartition(worker.topics.headcounts, 0)
        deleted = await admin.delete_records({tp: RecordsToDelete(before_offset=5)})
        assert deleted[tp] == 5  # the partition now starts where it ends
    finally:
        await admin.close()
    worker.start()
    held = f'partition="0",topic="{worker.topics.headcounts}"'
    deadline = time.monotonic() + STALL_SECONDS * 4 + 4
    while time.monotonic() < deadline:
        status, body = _readyz(worker)
        assert status == 200, body
        await asyncio.sleep(0.5)
    assert f"rvrota_consumer_lag{{{held}}} 0.0" in worker.metrics()


async def test_a_partition_that_cannot_move_makes_the_worker_not_ready_until_it_moves(
    worker: WorkerProcess, database_url: str
) -> None:
    worker.start()
    _block_inserts(database_url, True)
    async with worker.publisher() as publisher:
        for i in range(3):
            await publisher.producer.send_and_wait(
                worker.topics.headcounts, _headcount(worker, "S002", f"stuck-{i}"), key=b"S002"
            )

    def not_ready() -> bool:
        status, body = _readyz(worker)
        problems = body.get("problems")
        return (
            status == 503
            and isinstance(problems, dict)
            and worker.topics.headcounts in str(problems.get("consumer", ""))
            and "database" not in problems  # the database answers; the partition is stuck
        )

    await await_until(not_ready, 60, "/readyz to report the stuck partition")
    assert count_rows(database_url, "headcountreport_away") == 0
    _block_inserts(database_url, False)
    await await_until(lambda: _persisted(database_url) == 3, 60, "the batch after the unblock")
    await await_until(lambda: _readyz(worker)[0] == 200, 30, "/readyz ready again")
