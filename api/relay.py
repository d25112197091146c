"""The outbox relay: publishes the events the API accepted (``fleet.outbox``) to Kafka.

One relay runs in each API process, as a background task started and stopped by the
app's lifespan. A turn reads the oldest unsent rows in insertion order, hands them to
the idempotent producer (which keeps the order per partition, hence per key), waits
until the broker has acknowledged them (the producer retries by itself while the broker
is away) and marks them sent (in groups, every ``MARK_EVERY_SECONDS`` at most, so that
the relay seldom competes with the API's writes for SQLite's one writer); a row the
producer gave up on is offered again after a backoff. A write in this process wakes the
relay (which lingers ``outbox_linger_seconds`` for more to join the turn); rows written
by other processes are found by polling. On PostgreSQL the relay of one replica at a time holds
the lease (an advisory lock on a connection of its own, no transaction held open); on
SQLite one process serves.

Nothing is lost when the API stops mid-turn: the rows stay unsent and are published by
the next relay. A row whose acknowledgement was lost that way may be published twice;
the consumers apply an event once per ``event_id``. Failures are logged rate-limited.
Sent rows are deleted after ``outbox_retention_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from api.observe import ApiMetrics
from api.publisher import Publisher, PublishError
from api.quietlog import RepeatedFailure
from core.settings import Settings
from fleet import outbox
from fleet.db import Connection, Engine

log = logging.getLogger(__name__)
T = TypeVar("T")
PRUNE_EVERY_SECONDS = 60.0
MARK_EVERY_SECONDS = 0.05


def wall_now() -> datetime:
    """Outbox times are operational (age, retention): the wall clock, never a simulated one."""
    return datetime.now(UTC)


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking database step; when cancelled, let the step finish first (its
    connection is closed right after, and must not be in use by the thread)."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def sendable(rows: Sequence[outbox.Pending], outcomes: Sequence[BaseException | None]) -> list[int]:
    """Ids to mark sent: acknowledged rows, except those after a failed row of their key
    (they are published again after it, so that the key's last copies keep their order)."""
    failed: set[tuple[str, str]] = set()
    ids: list[int] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        key = (row.topic, row.key)
        if outcome is not None:
            failed.add(key)
        elif key not in failed:
            ids.append(row.id)
    return ids


def observe_backlog(engine: Engine, metrics: ApiMetrics) -> outbox.Backlog:
    """Read the outbox's depth and oldest age, and set the two gauges."""
    backlog = outbox.backlog(engine)
    metrics.outbox_depth.set(backlog.depth)
    metrics.outbox_oldest_age.set(backlog.age_seconds(wall_now()))
    return backlog


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        metrics: ApiMetrics,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        retry_seconds: float = 0.2,
        retry_max_seconds: float = 5.0,
        retention_seconds: float = 86400.0,
        linger_seconds: float = 0.0,
        topic_prefix: str = "",
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.retry_max_seconds = max(retry_seconds, retry_max_seconds)
        self.retention = timedelta(seconds=retention_seconds)
        self.linger_seconds = linger_seconds
        self.topic_prefix = topic_prefix
        self._exclusive = outbox.turns_are_taken(engine)
        self._wake = asyncio.Event()
        self._lease: Connection | None = None
        self._acked: list[int] = []  # acknowledged, not yet marked sent
        self._next_mark = 0.0
        self._task: asyncio.Task[None] | None = None
        self._next_prune = 0.0
        self._publish_failures = RepeatedFailure(log, "outbox relay: publishing failed")
        self._database_failures = RepeatedFailure(log, "outbox relay: database failed")

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, publisher: Publisher, metrics: ApiMetrics
    ) -> OutboxRelay:
        return cls(
            engine,
            publisher,
            metrics,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            retry_max_seconds=settings.outbox_retry_max_seconds,
            retention_seconds=settings.outbox_retention_seconds,
            linger_seconds=settings.outbox_linger_seconds,
            topic_prefix=settings.topic_prefix,
        )

    def topic_of(self, stored: str) -> str:
        """The topic a row goes to: with the prefix (tests: an API and a worker of their
        own on a shared broker), unless the row names it already (a replayed letter)."""
        if not self.topic_prefix or stored.startswith(self.topic_prefix):
            return stored
        return self.topic_prefix + stored

    def notify(self) -> None:
        """A row was committed in this process: relay it now (call on the event loop)."""
        self._wake.set()

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """End now; whatever is not yet acknowledged stays in the outbox, unsent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:  # what was acknowledged is marked, or it would be published again
            await self._flush_marks()
        except Exception as exc:  # noqa: BLE001 - at worst those rows are published twice
            log.warning("outbox relay: could not mark the last acknowledged rows: %s", exc)
        await _in_thread(self._drop_lease)

    async def _idle(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return
        if self.linger_seconds > 0:  # woken by a write: let the next few join this turn
            await asyncio.sleep(self.linger_seconds)

    async def _run(self) -> None:
        delay = self.retry_seconds
        while True:
            if not self.publisher.connected():
                # the producer reconnects (with backoff and its own logs); rows wait
                await self._idle(self.poll_seconds)
                continue
            self._wake.clear()
            try:
                if not await _in_thread(self._hold_lease):
                    await self._idle(self.poll_seconds)  # another replica relays
                    continue
                count = await self.run_once()
            except PublishError as exc:
                self._publish_failures.failed(exc)
            except Exception as exc:  # noqa: BLE001 - the relay outlives any one failure
                self._database_failures.failed(exc)
                await _in_thread(self._drop_lease)
            else:
                self._publish_failures.recovered()
                self._database_failures.recovered()
                delay = self.retry_seconds
                await self._maybe_prune()
                if count < self.batch_size:
                    # what is acknowledged is marked by the next turn (at most
                    # MARK_EVERY_SECONDS after the last mark): soon, when idle
                    await self._idle(MARK_EVERY_SECONDS if self._acked else self.poll_seconds)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_seconds)

    def _hold_lease(self) -> bool:
        """True when this process may relay (PostgreSQL: it holds, or now takes, the lease)."""
        if not self._exclusive:
            return True
        if self._lease is not None:
            try:
                outbox.lease_alive(self._lease)
                return True
            except Exception:  # noqa: BLE001 - the connection went, and the lease with it
                self._drop_lease()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if outbox.take_relay_lease(conn):
                self._lease = conn
                log.info("outbox relay: this process relays (lease taken)")
                return True
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        conn.close()
        return False

    def _drop_lease(self) -> None:
        conn, self._lease = self._lease, None
        if conn is None:
            return
        with contextlib.suppress(Exception):  # a lost connection has released it already
            outbox.release_relay_lease(conn)
        # never back to the pool holding a session lock
        conn.invalidate()
        conn.close()

    async def run_once(self) -> int:
        """One turn: publish up to ``batch_size`` unsent rows; the number acknowledged.

        Rows acknowledged are marked sent in groups (every ``MARK_EVERY_SECONDS``, when
        the relay goes idle, and at ``stop``), together with the turn's read: one write
        transaction for many turns, so that the relay does not contend with the API's
        writes for SQLite's one writer. Until then a turn skips them. Waits until the
        producer has an outcome for each row (an acknowledgement, or a failure once it
        gives up). Raises ``PublishError`` when some row failed.
        """
        loop = asyncio.get_running_loop()
        mark = bool(self._acked) and loop.time() >= self._next_mark
        acked = self._acked if mark else []
        limit = self.batch_size + len(self._acked) - len(acked)
        rows = await _in_thread(self._mark_and_read, acked, limit, wall_now())
        if mark:
            self._acked = self._acked[len(acked) :]
            self._next_mark = loop.time() + MARK_EVERY_SECONDS
        skip = set(self._acked)
        rows = [r for r in rows if r.id not in skip][: self.batch_size]
        if not rows:
            return 0
        outcomes = await self.publisher.send_many(
            [(self.topic_of(r.topic), r.key, r.value) for r in rows]
        )
        ids = sendable(rows, outcomes)
        self._acked.extend(ids)
        now = wall_now()
        sent = set(ids)
        for row in rows:
            if row.id in sent:
                self.metrics.outbox_published.labels(row.topic).inc()
                self.metrics.outbox_latency.observe(
                    max(0.0, (now - row.created_at).total_seconds())
                )
        failures = [o for o in outcomes if o is not None]
        if failures:
            raise PublishError(f"{len(failures)} of {len(rows)} not acknowledged: {failures[0]}")
        return len(ids)

    def _mark_and_read(
        self, acked: Sequence[int], limit: int, now: datetime
    ) -> list[outbox.Pending]:
        """Mark ``acked`` sent and read the ``limit`` oldest unsent rows, in one
        transaction."""
        with self.engine.begin() as conn:
            outbox.mark_sent(conn, acked, now)
            return outbox.pending(conn, limit) if limit > 0 else []

    async def _flush_marks(self) -> None:
        acked, self._acked = self._acked, []
        if acked:
            try:
                await _in_thread(self._mark_and_read, acked, 0, wall_now())
            except BaseException:
                self._acked = acked + self._acked
                raise

    async def _maybe_prune(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_prune:
            return
        self._next_prune = loop.time() + PRUNE_EVERY_SECONDS
        try:
            removed = await _in_thread(outbox.prune, self.engine, wall_now() - self.retention)
        except Exception as exc:  # noqa: BLE001 - pruning again in a minute is soon enough
            self._database_failures.failed(exc)
            return
        if removed:
            log.debug("outbox: pruned %d sent rows", removed)
