"""What the worker's agents share: settings, clock, engine, publisher, caches, thread pools.

``Worker`` runs database work in its thread pool (retrying until it succeeds, so that
no batch is dropped), keeps dead letters in the database and on their topic, requests
plans, and answers what /readyz asks (database, broker, stalled partitions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from aiokafka.errors import KafkaError

from core.clock import Clock
from core.metrics import ServiceMetrics
from fleet import dead_letters, events
from fleet.db import Engine, ping, session_scope
from streams import ingest
from streams.config import StreamsSettings, Topics
from streams.logfilter import RateLimitedLog
from streams.publish import EventPublisher
from streams.state import LatestHeadcounts, StallWatch

log = logging.getLogger(__name__)

T = TypeVar("T")

DB_RETRY_SECONDS = 1.0


@dataclass
class Worker:
    """Everything the agents share; built by ``create_app``, started with the app."""

    settings: StreamsSettings
    topics: Topics
    clock: Clock
    engine: Engine
    metrics: ServiceMetrics
    publisher: EventPublisher
    db_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="rvrota-db")
    )
    plan_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="rvrota-plan")
    )
    stopping: bool = False
    lag_labels: set[tuple[str, int]] = field(default_factory=set)
    plan_figures: ingest.PlanFigures = field(default_factory=ingest.PlanFigures)
    headcounts: LatestHeadcounts = field(default_factory=LatestHeadcounts)
    stall: StallWatch = field(default_factory=lambda: StallWatch(60.0))
    earliest: dict[Any, int] = field(default_factory=dict)
    db_down_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log, 10.0))
    broker_down_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log, 10.0))

    async def in_thread(self, pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    async def db(self, fn: Callable[[], T], what: str) -> T:
        """Run database work in a thread; retry until it succeeds (never drop a batch)."""
        attempt = 0
        while True:
            try:
                return await self.in_thread(self.db_pool, fn)
            except Exception:
                attempt += 1
                if self.stopping:
                    raise
                log.exception("%s failed (attempt %d); retrying", what, attempt)
                await asyncio.sleep(min(DB_RETRY_SECONDS * attempt, 10.0))

    async def dead_letter(
        self,
        message: Any,
        error: events.EventRejected,
    ) -> None:
        await self.keep_dead_letters([(message, error)])

    def letters_of(
        self, rejected: Sequence[tuple[Any, events.EventRejected]]
    ) -> list[tuple[events.DeadLetter, bytes | None]]:
        now = self.clock.now()
        return [
            (
                events.DeadLetter.of(
                    message.value,
                    message.key,
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                    now,
                ),
                message.key,
            )
            for message, error in rejected
        ]

    async def send_dead_letters(
        self, letters: list[tuple[events.DeadLetter, bytes | None]]
    ) -> None:
        """Send letters to the topic; while the broker does not take them, try again."""
        attempt = 0
        while letters:
            try:
                await self.publisher.send_dead_letters(letters)
                return
            except KafkaError as exc:
                if self.stopping:
                    raise
                attempt += 1
                self.broker_down_log.note(f"dead letters not sent ({exc!r}); retrying")
                await asyncio.sleep(min(DB_RETRY_SECONDS * attempt, 10.0))

    def count_dead_letters(self, rejected: Sequence[tuple[Any, events.EventRejected]]) -> None:
        for message, error in rejected:
            self.metrics.events_dead_lettered.labels(
                topic=message.topic, field=events.field_label(error.field)
            ).inc()
            log.info(
                "dead-lettered %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                events.printable(str(error))[:300],
            )

    async def keep_dead_letters(self, rejected: Sequence[tuple[Any, events.EventRejected]]) -> None:
        """Dead letters kept in the database (the dispatchers' view) and on the topic."""
        if not rejected:
            return
        letters = self.letters_of(rejected)

        def store() -> int:
            with session_scope(self.engine) as db:
                return dead_letters.store(db, [letter for letter, _ in letters])

        await self.db(store, "keeping dead letters")
        await self.send_dead_letters(letters)
        self.count_dead_letters(rejected)

    async def database_up(self) -> bool:
        try:
            await asyncio.wait_for(self.in_thread(self.db_pool, partial(ping, self.engine)), 5)
        except Exception:  # noqa: BLE001 - the answer is "no"
            return False
        return True

    async def wait_for_database(self) -> None:
        """Pause until the database answers again (ingest stops for everyone meanwhile)."""
        attempt = 0
        while not await self.database_up():
            if self.stopping:
                raise asyncio.CancelledError
            attempt += 1
            self.db_down_log.note("the database does not answer; ingest paused")
            await asyncio.sleep(min(DB_RETRY_SECONDS * attempt, 10.0))

    async def request_plans(self, requests: Sequence[events.PlanRequest]) -> None:
        if self.stopping and requests:
            # the publisher is stopping or stopped (a timer ran into the stop); what the
            # reconciler asks for is derived again from the database at the next start
            log.info("stopping: %d plan requests left for the next start", len(requests))
            return
        for request in requests:
            await self.publisher.send_plan_request(request)
            log.info("plan requested: %s %s (%s)", request.region, request.week, request.reason)

    async def ready_problems(self) -> dict[str, str]:
        problems: dict[str, str] = {}

        try:
            await asyncio.wait_for(self.in_thread(self.db_pool, partial(ping, self.engine)), 5)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems["database"] = f"{type(exc).__name__}: {exc}"
        try:
            producer = self.publisher.producer
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 5)
        except Exception as exc:  # noqa: BLE001
            problems["broker"] = f"{type(exc).__name__}: {exc}"
        stalled = self.stall.stalled(time.monotonic())
        if stalled:
            problems["consumer"] = (
                f"events waiting, not consumed for {self.stall.limit:g} s: "
                + ", ".join(f"{topic}[{partition}]" for topic, partition in stalled)
            )
        return problems

    def partitions_moved(self) -> None:
        """Partitions were assigned or revoked: what the cache holds may be stale."""
        self.headcounts.clear()
