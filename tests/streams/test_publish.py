"""The publisher writes the contract's events, keyed as the contract says, to the real broker."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from core.settings import Settings
from fleet import events
from streams.app import worker_publisher
from streams.config import StreamsSettings, Topics
from streams.publish import EventPublisher, create_publisher

pytestmark = pytest.mark.kafka

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


async def _read(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    got: list[tuple[bytes | None, bytes]] = []
    try:
        while len(got) < count:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            for records in batch.values():
                got.extend((r.key, r.value) for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return got


async def test_send_headcount_and_status(kafka_bootstrap: str) -> None:
    """Both ingest events land on their topics, keyed by site and vehicle id, and parse back."""
    headcount = events.HeadcountEvent(
        event_id=events.new_event_id(), site_id="S-pub", count=12, observed_at=NOW
    )
    status = events.VehicleStatusEvent(
        event_id=events.new_event_id(), vehicle_id="RV-pub", status="on_site", observed_at=NOW
    )
    publisher = create_publisher(Settings(kafka_bootstrap=kafka_bootstrap))
    async with publisher:
        await publisher.send_headcount(headcount)
        await publisher.send_vehicle_status(status)
    heads = await _read(kafka_bootstrap, events.HEADCOUNTS_TOPIC, 1)
    mine = [v for k, v in heads if k == b"S-pub"]
    assert events.parse_headcount_event(mine[0], NOW) == headcount
    stats = await _read(kafka_bootstrap, events.VEHICLE_STATUS_TOPIC, 1)
    mine = [v for k, v in stats if k == b"RV-pub"]
    assert events.parse_vehicle_status_event(mine[0], NOW) == status


async def test_publisher_must_be_started() -> None:
    publisher = EventPublisher("localhost:1")
    with pytest.raises(RuntimeError, match="not started"):
        await publisher.send("t", b"x")


async def _topic_refusing_over(bootstrap: str, topic: str, max_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"max.message.bytes": str(max_bytes)}
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=config)])
    finally:
        await admin.close()


async def test_the_worker_compresses_dead_letters_so_the_broker_takes_fewer_bytes(
    kafka_bootstrap: str,
) -> None:
    """The worker's producer compresses (lz4 by default): a dead letter of a 900 KB value
    (its original cut to 512 KiB, about 700 KB as base64) is taken by a topic that refuses
    record batches over 64 KiB as the broker stores them, and reads back whole; without
    compression the same letter is refused."""
    huge = b'{"event_id": "X1", "pad": "' + b"x" * 900_000 + b'"}'
    letter = events.DeadLetter.of(
        huge,
        b"S001",
        events.HEADCOUNTS_TOPIC,
        0,
        41,
        events.EventRejected("payload", "is over the limit"),
        NOW,
    )
    assert len(letter.to_bytes()) > 10 * 64 * 1024
    results: dict[str, list[tuple[bytes | None, bytes]] | str] = {}
    for compression in ("default", "none"):
        prefix = f"pc{uuid.uuid4().hex[:6]}."
        topics = Topics.with_prefix(prefix)
        await _topic_refusing_over(kafka_bootstrap, topics.dead_letters, 64 * 1024)
        options = {} if compression == "default" else {"producer_compression": compression}
        settings = StreamsSettings(kafka_bootstrap=kafka_bootstrap, **options)
        async with worker_publisher(settings, topics) as publisher:
            try:
                await publisher.send_dead_letters([(letter, b"S001")])
            except KafkaError as exc:
                results[compression] = type(exc).__name__
                continue
        results[compression] = await _read(kafka_bootstrap, topics.dead_letters, 1)
    assert isinstance(results["none"], str) and "TooLarge" in results["none"], results["none"]
    read = results["default"]
    assert isinstance(read, list) and len(read) == 1
    key, value = read[0]
    back = events.DeadLetter.model_validate_json(value)
    assert key == b"S001" and back == letter
    assert back.truncated and back.original_size == len(huge)
    assert back.original_bytes() == huge[: events.KEEP_ORIGINAL_BYTES]
    assert back.original_sha256 == hashlib.sha256(huge).hexdigest()
