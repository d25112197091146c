"""Faust's own cost per event: a no-work ingest agent on stock Faust and on the worker's
Faust set-up, next to a plain aiokafka consumer, on one broker in one run.

Each consumer reads the same backlog of headcount events (its own consumer group),
parses each event's JSON, acknowledges/commits, and reports events/s from its first
batch to the last. No database: what remains is the framework's cost.

- stock Faust: ``faust.App`` defaults (4,096-event stream buffer, Faust's Monitor
  sensor), ``noack_take(1000, within=0.05)``, each event acknowledged;
- worker set-up: ``streams.worker_app.WorkerApp`` (eager delivery, no Monitor per event,
  ``RVROTA_STREAM_BUFFER_SIZE``) and the ingest agents' ``pipelined`` batching;
- plain aiokafka: ``getmany(1000)``, commit per batch.

    python bench/faust_overhead.py                     # private broker
    python bench/faust_overhead.py --events 200000 --bootstrap localhost:9092
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from streams import kafka_local  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402

PARTITIONS = 6
BATCH = 1000


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def produce(bootstrap: str, topic: str, n: int) -> None:
    await ensure_topics(bootstrap, [topic], PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        for start in range(0, n, 2000):
            sends = []
            for i in range(start, min(n, start + 2000)):
                site = f"S{1 + i % 45:03d}"
                value = {
                    "event_id": f"E{i:07d}",
                    "site_id": site,
                    "count": 500,
                    "observed_at": "2026-11-23T08:00:00+08:00",
                }
                sends.append(
                    await producer.send(topic, json.dumps(value).encode(), key=site.encode())
                )
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


class Meter:
    """Events/s from the first batch handled to the n-th event."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.done = 0
        self.first: tuple[float, int] | None = None

    def add(self, count: int) -> float | None:
        self.done += count
        if self.first is None:
            self.first = (time.monotonic(), self.done)
        if self.done < self.n:
            return None
        started, before = self.first
        return (self.done - before) / max(time.monotonic() - started, 1e-6)


async def plain(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"plain-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=BATCH,
    )
    await consumer.start()
    meter = Meter(n)
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=BATCH)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            for record in records:
                json.loads(record.value or b"{}")
            await consumer.commit()
            rate = meter.add(len(records))
            if rate is not None:
                return rate
    finally:
        await consumer.stop()


def run_faust(kind: str, bootstrap: str, topic: str, n: int) -> None:
    """One Faust worker in this process; prints ``RATE <events/s>`` and exits."""
    import faust

    from streams.batching import pipelined
    from streams.config import StreamsSettings
    from streams.worker_app import WorkerApp

    common: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "store": "memory://",
        "autodiscover": False,
        "web_enabled": False,
        "datadir": tempfile.mkdtemp(prefix="rvrota-faust-bench-"),
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": 1.0,
        "stream_wait_empty": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    group = f"{kind}-{uuid.uuid4().hex[:6]}"
    if kind == "stock":
        app = faust.App(group, **common)
    else:
        buffer = StreamsSettings().stream_buffer_size
        app = WorkerApp(group, stream_buffer_maxsize=buffer, **common)
    source = app.topic(topic, key_type=bytes, value_type=bytes, internal=True)
    meter = Meter(n)

    def finish(rate: float | None) -> None:
        if rate is not None:
            sys.stdout.write(f"RATE {rate:.1f}\n")
            sys.stdout.flush()
            os._exit(0)

    async def parse_all(batch: Sequence[Any]) -> None:
        for event in batch:
            json.loads(event.message.value or b"{}")
        finish(meter.add(len(batch)))

    if kind == "stock":

        @app.agent(source, concurrency=1, name="no-work")
        async def no_work_stock(stream: Any) -> None:
            async for batch in stream.noack_take(BATCH, within=0.05):
                for event in batch:
                    json.loads(event.message.value or b"{}")
                for event in batch:
                    await stream.ack(event)
                finish(meter.add(len(batch)))

    else:

        @app.agent(source, concurrency=1, name="no-work")
        async def no_work_worker(stream: Any) -> None:
            await pipelined(stream, BATCH, parse_all)

    worker = faust.Worker(app, loglevel="warning", override_logging=False, redirect_stdouts=False)
    worker.execute_from_commandline()


def faust_rate(kind: str, bootstrap: str, topic: str, n: int) -> float:
    proc = subprocess.run(
        [sys.executable, __file__, "--run", kind, "--bootstrap", bootstrap, "--topic", topic]
        + ["--events", str(n)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RATE "):
            return float(line.split()[1])
    raise RuntimeError(
        f"{kind} Faust run gave no rate:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap", default="", help="use this broker instead of a private one")
    parser.add_argument("--run", choices=["stock", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_faust(args.run, args.bootstrap, args.topic, args.events)
        return 0
    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        home = Path(tempfile.mkdtemp(prefix="rvrota-bench-kafka-"))
        broker = kafka_local.BrokerConfig(home=home, port=free_port(), controller_port=free_port())
        kafka_local.start(broker, timeout=180)
        bootstrap = broker.bootstrap
    try:
        topic = f"overhead{uuid.uuid4().hex[:6]}.site-headcounts"
        asyncio.run(produce(bootstrap, topic, args.events))
        rates = {
            "stock": faust_rate("stock", bootstrap, topic, args.events),
            "worker": faust_rate("worker", bootstrap, topic, args.events),
            "plain": asyncio.run(plain(bootstrap, topic, args.events)),
        }
    finally:
        if broker is not None:
            kafka_local.stop(broker)
    print(f"{args.events:,} events, {PARTITIONS} partitions, parse only (no database)\n")
    print(f"{'consumer':<34} {'events/s':>12} {'us/event':>10} {'of plain':>9}")
    for name, label in [
        ("stock", "stock Faust (noack_take)"),
        ("worker", "worker's Faust set-up (pipelined)"),
        ("plain", "plain aiokafka"),
    ]:
        rate = rates[name]
        print(f"{label:<34} {rate:>12,.0f} {1e6 / rate:>10.1f} {rate / rates['plain']:>9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
