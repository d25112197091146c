"""A clean stop while the broker is down: SIGTERM ends the worker within
RVROTA_STOP_DRAIN_SECONDS, and the repeated connection errors meanwhile are logged
rate-limited (once per RVROTA_LOG_REPEAT_SECONDS with a count), not many times a second.
The worker's own private broker (stopped mid-test); SQLite."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from streams import kafka_local
from tests.fixtures.kafka import free_port
from tests.streams.harness import WorkerProcess, await_until, count_rows, prepare_database

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STOP_SECONDS = 8.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[kafka_local.BrokerConfig]:
    config = kafka_local.BrokerConfig(
        home=tmp_path / "kafka", port=free_port(), controller_port=free_port(), partitions=3
    )
    kafka_local.start(config, timeout=180.0)
    try:
        yield config
    finally:
        kafka_local.stop(config, timeout=10.0)


def _stamp(line: str) -> datetime | None:
    found = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (WARNING|ERROR|CRITICAL) ", line)
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f") if found else None


async def test_sigterm_with_the_broker_down_ends_in_time_and_logs_little(
    broker: kafka_local.BrokerConfig, sqlite_url: str, tmp_path: Path
) -> None:
    prepare_database(sqlite_url).dispose()
    worker = WorkerProcess(
        broker.bootstrap,
        sqlite_url,
        tmp_path,
        extra_env={
            "RVROTA_RECONCILE_SECONDS": "3600",
            "RVROTA_STOP_DRAIN_SECONDS": str(STOP_SECONDS),
            "RVROTA_LOG_REPEAT_SECONDS": "5",
        },
    )
    worker.start()
    try:
        async with worker.publisher() as publisher:
            for i in range(20):
                body = {
                    "event_id": f"before-{i}",
                    "site_id": "S001",
                    "count": 100 + i,
                    "observed_at": worker.at(-60).isoformat(),
                }
                await publisher.send(worker.topics.headcounts, json.dumps(body).encode(), b"S001")
        await await_until(
            lambda: count_rows(sqlite_url, "headcountreport") == 20, 60, "the events persisted"
        )
        kafka_local.stop(broker, timeout=10.0)
        down_at = datetime.now()
        await asyncio.sleep(15)  # the clients retry and complain meanwhile
        assert worker.proc is not None and worker.proc.poll() is None
        sent = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(worker.proc.wait, STOP_SECONDS + 20)
        finally:
            took = time.monotonic() - sent
    finally:
        worker.stop()  # SIGKILL if it is still there
    assert took <= STOP_SECONDS + 2.0, f"stopped {took:.1f} s after SIGTERM"
    assert code == 0
    lines = worker.log_path.read_text(errors="replace").splitlines()
    complaints = [line for line in lines if (stamp := _stamp(line)) and stamp >= down_at]
    # ~15 s down: each repeated complaint at most once per 5 s (a handful of sources)
    assert len(complaints) <= 40, "\n".join(complaints[-50:])
    assert any("more like this" in line for line in complaints), "\n".join(complaints[-30:])
