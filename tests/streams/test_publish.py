"""The publisher writes the contract's events, keyed as the contract says, to the real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer

from core.settings import Settings
from fleet import events
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
