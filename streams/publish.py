"""Producing events: one small async wrapper around aiokafka (acks=all, idempotent).

Create it with ``create_publisher(settings)`` (or ``EventPublisher(bootstrap)``),
``await publisher.start()`` once, and ``await publisher.stop()`` at shutdown; or
use it as an async context manager. Nothing is created at import.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from core.settings import Settings
from fleet import events
from streams.config import Topics

log = logging.getLogger(__name__)


class EventPublisher:
    """Sends the contract's events; every send waits for the broker's acknowledgement."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topics: Topics | None = None,
        linger_ms: int = 0,
        **producer_options: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics if topics is not None else Topics.with_prefix("")
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "client_id": "rvrota-publisher",
            **producer_options,
        }
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("EventPublisher is not started: await publisher.start() first")
        return self._producer

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self._options)
        await producer.start()
        self._producer = producer
        log.debug("publisher connected to %s", self.bootstrap)

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Send raw bytes and wait until the broker has them (acks=all)."""
        await self.producer.send_and_wait(topic, value, key=key)

    async def send_many(self, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        """Send (key, value) pairs together and wait until the broker has them all."""
        producer = self.producer
        pending = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*pending)

    async def send_headcount(self, event: events.HeadcountEvent) -> None:
        await self.send(self.topics.headcounts, event.to_bytes(), key=event.key)

    async def send_vehicle_status(self, event: events.VehicleStatusEvent) -> None:
        await self.send(self.topics.vehicle_status, event.to_bytes(), key=event.key)

    async def send_plan_request(self, request: events.PlanRequest) -> None:
        await self.send(self.topics.plan_requests, request.to_bytes(), key=request.region.encode())

    async def send_plan(self, plan: dict[str, Any], region: str, week: str, version: int) -> None:
        value = events.plan_message(plan, region, week, version)
        await self.send(self.topics.plans, value, key=region.encode())

    async def send_dead_letter(self, letter: events.DeadLetter, key: bytes | None) -> None:
        await self.send_dead_letters([(letter, key)])

    async def send_dead_letters(
        self, letters: list[tuple[events.DeadLetter, bytes | None]]
    ) -> None:
        """Dead letters, each keyed by its original key (cut as the letter's key is)."""
        await self.send_many(
            self.topics.dead_letters,
            [
                (key[: events.KEEP_KEY_BYTES] if key is not None else None, letter.to_bytes())
                for letter, key in letters
            ],
        )

    async def send_assignment(self, assignment: events.VehicleAssignment) -> None:
        await self.send(
            self.topics.vehicle_assignments,
            assignment.to_bytes(),
            key=assignment.vehicle_id.encode(),
        )


def create_publisher(settings: Settings, **producer_options: Any) -> EventPublisher:
    """A publisher for the configured cluster (``RVROTA_KAFKA_BOOTSTRAP``); not yet started."""
    prefix = str(getattr(settings, "topic_prefix", ""))
    return EventPublisher(
        settings.kafka_bootstrap, topics=Topics.with_prefix(prefix), **producer_options
    )
