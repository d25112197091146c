"""Producing to Kafka from the API.

``Publisher`` is what the outbox relay (``api.relay``) sees; ``KafkaPublisher`` is the
real one (aiokafka, acks=all, idempotent producer: the messages of one partition reach
it in the order they were sent). The producer is created and started in the app's
lifespan, never at import. Connecting is retried in the background with backoff (and
rate-limited logs) so that the API serves reads and accepts writes (into the outbox)
while the broker is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from api.quietlog import RepeatedFailure

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The event could not be handed to the broker."""


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, key: str, value: bytes) -> None:
        """Write one event (UTF-8 JSON) and wait until the broker has it (acks=all)."""
        ...

    async def send_many(
        self, messages: Sequence[tuple[str, str, bytes]]
    ) -> list[BaseException | None]:
        """Write (topic, key, value) messages in order; per message, None or its failure.

        Waits until each is acknowledged or failed (while the broker is away the producer
        retries, so this may take as long as the outage). Raises ``PublishError`` when the
        producer is not connected (nothing was sent).
        """
        ...

    def connected(self) -> bool:
        """Has the producer connected (it reconnects by itself after that)?"""
        ...

    async def ready(self) -> bool:
        """Can the broker be reached right now?"""
        ...


class KafkaPublisher:
    def __init__(
        self,
        bootstrap: str,
        *,
        send_timeout: float = 10.0,
        retry_seconds: float = 0.5,
        retry_max_seconds: float = 5.0,
        stop_seconds: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.send_timeout = send_timeout
        self.retry_seconds = retry_seconds
        self.retry_max_seconds = max(retry_seconds, retry_max_seconds)
        self.stop_seconds = stop_seconds
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unreachable = RepeatedFailure(log, f"Kafka at {bootstrap} not reachable")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="kafka-publisher-start")

    async def _connect(self) -> None:
        delay = self.retry_seconds
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
                self._unreachable.failed(exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_seconds)
                continue
            self._producer = producer
            self._started.set()
            self._unreachable.recovered()
            log.info("Kafka producer connected to %s", self.bootstrap)
            return

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            # stopping flushes what is in flight; with the broker gone that would wait for
            # the request timeout: the outbox keeps those rows unsent, so do not wait long
            try:
                await asyncio.wait_for(self._producer.stop(), self.stop_seconds)
            except (KafkaError, TimeoutError) as exc:
                log.warning("Kafka producer stopped without flushing: %s", exc)
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

    async def send_many(
        self, messages: Sequence[tuple[str, str, bytes]]
    ) -> list[BaseException | None]:
        producer = self._producer
        if producer is None or not self.connected():
            raise PublishError(f"Kafka at {self.bootstrap} is not connected")
        futures: list[asyncio.Future[object]] = []
        refused: BaseException | None = None
        for topic, key, value in messages:
            try:
                # ``send`` queues the message (in order, per partition) and returns its future
                futures.append(
                    await asyncio.wait_for(
                        producer.send(topic, value, key=key.encode()), self.send_timeout
                    )
                )
            except (KafkaError, TimeoutError) as exc:
                refused = exc  # no metadata, full buffer: the broker is away; stop here
                break
        if futures:
            # no timeout: the idempotent producer retries until the broker has a message
            # (or gives up on it, failing its future); resending earlier would queue a copy
            await asyncio.wait(futures)
        outcomes: list[BaseException | None] = []
        for future in futures:
            if future.cancelled():
                outcomes.append(asyncio.CancelledError())
            else:
                outcomes.append(future.exception())
        unsent = refused or PublishError("not sent: an earlier message was refused")
        outcomes.extend(unsent for _ in range(len(messages) - len(futures)))
        return outcomes

    def connected(self) -> bool:
        return self._producer is not None and self._started.is_set()

    async def ready(self) -> bool:
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 2.0)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True
