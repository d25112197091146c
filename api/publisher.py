"""Producing events to Kafka from the API.

``Publisher`` is what the routes see; ``KafkaPublisher`` is the real one (aiokafka,
acks=all, idempotent producer). The producer is created and started in the app's
lifespan, never at import. Starting is retried in the background so that the API
serves reads (and ``/readyz`` says "not ready") while the broker is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The event could not be handed to the broker."""


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, key: str, value: bytes) -> None:
        """Write one event (UTF-8 JSON) and wait until the broker has it (acks=all)."""
        ...

    async def ready(self) -> bool:
        """Can the broker be reached right now?"""
        ...


class KafkaPublisher:
    def __init__(
        self, bootstrap: str, *, send_timeout: float = 10.0, retry_seconds: float = 1.0
    ) -> None:
        self.bootstrap = bootstrap
        self.send_timeout = send_timeout
        self.retry_seconds = retry_seconds
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="kafka-publisher-start")

    async def _connect(self) -> None:
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=int(self.send_timeout * 1000),
            )
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("Kafka at %s not reachable yet: %s", self.bootstrap, exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(self.retry_seconds)
                continue
            self._producer = producer
            self._started.set()
            log.info("Kafka producer connected to %s", self.bootstrap)
            return

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, topic: str, key: str, value: bytes) -> None:
        try:
            await asyncio.wait_for(self._started.wait(), self.send_timeout)
        except TimeoutError as exc:
            raise PublishError(f"Kafka at {self.bootstrap} is not reachable") from exc
        assert self._producer is not None
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(topic, value, key=key.encode()),
                self.send_timeout,
            )
        except (KafkaError, TimeoutError) as exc:
            raise PublishError(f"could not write to {topic}: {exc}") from exc

    async def ready(self) -> bool:
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 2.0)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True
