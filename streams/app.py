"""The Faust app of the stream worker: topics, tables and agents, built by ``create_app``.

Agents (each with concurrency 1, faust-streaming #606):

- ``ingest_headcounts`` / ``ingest_vehicle_statuses``: raw events in batches; each one is
  validated (``fleet.events``), bad ones go to the dead-letter topic with their original
  bytes, source topic, partition, offset and a reason naming the field, and to the
  ``dead_letter`` table (the dispatchers' view); accepted ones are persisted in one
  transaction per batch (idempotent per event id), an event the database refuses for its
  content is isolated and dead-lettered (``streams.isolate``), and material changes ask
  for a plan. The newest headcount per site and each vehicle's current status live in
  the database; a per-process cache of the newest headcounts (``streams.state``) is
  emptied whenever partitions move.
- ``plan_regions``: plan requests coalesced per region and week over
  ``plan_coalesce_seconds``; the scenario is built from live state, solved in a thread,
  stored in one transaction, published to ``rvrota.plans`` (unless held for approval)
  with each vehicle's changes on ``rvrota.vehicle-assignments``.
- a timer (leader only) makes sure every region has plans for this week and the next.

The database is the source of truth. There are no Faust tables (and so no changelog to
recover after a rebalance, faust-streaming #597 / #651): a partition taken over from a
dead worker is consumed at once. Events are acknowledged only after their batch took
effect (at-least-once delivery). /readyz reports partitions with events waiting whose
committed offset has not moved for ``ready_stall_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import faust
import mode
from aiokafka.errors import KafkaError

from core.clock import Clock, clock_from_settings
from core.metrics import ServiceMetrics, create_metrics
from core.metrics_access import MetricsAccess
from fleet import dead_letters, events
from fleet.db import DbSession, Engine, begin_write, make_engine, ping, session_scope
from fleet.plans import confirm_upcoming, mark_missed_sessions
from streams import ingest, isolate, records, rules
from streams.config import StreamsSettings, Topics
from streams.health import HealthServer, build_health_app
from streams.logfilter import RateLimitedLog
from streams.planner import PlanningFailed, asked_plans, live_first, plan_week, take_up_asks
from streams.publish import EventPublisher
from streams.state import LatestHeadcounts, StallWatch, consumed_position
from streams.transport import EagerTransport

log = logging.getLogger(__name__)

T = TypeVar("T")
ParsedT = TypeVar("ParsedT")

DB_RETRY_SECONDS = 1.0


def broker_urls(bootstrap: str) -> list[str]:
    """``host1:9092,host2:9092`` -> Faust broker URLs."""
    return [f"kafka://{part.strip()}" for part in bootstrap.split(",") if part.strip()]


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


# --- batch handlers (the agents' bodies) -----------------------------------------------


async def _parse_batch(
    worker: Worker,
    batch: Sequence[faust.EventT],
    parse: Callable[..., ParsedT],
    now: datetime,
) -> tuple[list[tuple[Any, ParsedT]], list[tuple[Any, events.EventRejected]]]:
    """Parse each message of a batch: (message, event) of the accepted, (message, reason)
    of the rejected. Nothing a value holds can raise out of here."""
    settings = worker.settings
    if batch:
        worker.metrics.ingest_batch.labels(topic=batch[0].message.topic).observe(len(batch))
    parsed: list[tuple[Any, ParsedT]] = []
    rejected: list[tuple[Any, events.EventRejected]] = []
    for event in batch:
        message = event.message
        try:
            item = parse(
                message.value or b"",
                now,
                max_future_seconds=settings.event_max_future_seconds,
                max_bytes=settings.event_max_bytes,
            )
        except events.EventRejected as exc:
            rejected.append((message, exc))
            continue
        except Exception as exc:  # noqa: BLE001 - a value the rules did not foresee
            reason = f"cannot be read ({isolate.describe(exc)})"
            rejected.append((message, events.EventRejected("payload", reason)))
            continue
        parsed.append((message, item))
    return parsed, rejected


Letter = tuple[events.DeadLetter, bytes | None]


async def _apply(
    worker: Worker,
    messages: Sequence[Any],
    run: Callable[[DbSession, int, int], T],
    rejected_of: Callable[[T], Sequence[tuple[int, events.EventRejected]]],
    letters: Sequence[Letter] = (),
) -> tuple[list[tuple[int, T, list[Letter]]], list[tuple[int, events.EventRejected]]]:
    """``run(db, start, end)`` over the events of ``messages`` in the database thread, in
    one transaction if it can be, isolating the events at fault (``streams.isolate``).
    The batch's dead ``letters`` and those of the events a part rejects
    (``rejected_of(result)``, by index in the part) are kept in the same transaction
    (idempotent per position). Returns each applied part's (first index, result, its
    letters) and the events the database refused (index, reason)."""

    def transaction(start: int, end: int) -> isolate.Applied[tuple[T, list[Letter]]]:
        def part(db: DbSession, a: int, b: int) -> tuple[T, list[Letter]]:
            result = run(db, start + a, start + b)
            late = worker.letters_of(
                [(messages[start + a + i], error) for i, error in rejected_of(result)]
            )
            dead_letters.store(db, [letter for letter, _ in late])
            return result, late

        with session_scope(worker.engine) as db:
            begin_write(db)
            dead_letters.store(db, [letter for letter, _ in letters])
            return isolate.apply_in_savepoints(db, end - start, part)

    if not messages:
        if letters:
            await worker.db(lambda: transaction(0, 0), "keeping dead letters")
        return [], []

    async def attempt(start: int, end: int) -> isolate.Applied[tuple[T, list[Letter]]]:
        return await worker.in_thread(worker.db_pool, lambda: transaction(start, end))

    applied = await isolate.apply_isolating(
        len(messages),
        attempt,
        worker.database_up,
        worker.wait_for_database,
        stopping=lambda: worker.stopping,
    )
    parts: list[tuple[int, T, list[Letter]]] = []
    refused = list(applied.refused)
    for start, inner in applied.parts:
        parts += [(start + a, result, late) for a, (result, late) in inner.parts]
        refused += [(start + i, error) for i, error in inner.refused]
    return parts, refused


async def handle_headcounts(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    settings = worker.settings
    now = worker.clock.now()
    parsed, rejected = await _parse_batch(worker, batch, events.parse_headcount_event, now)
    items = [item for _, item in parsed]
    # the cache holds the newest report of sites seen since the last rebalance; the others
    # (a cold start, a partition just taken over) are read from the database
    generation = worker.headcounts.generation
    held = worker.headcounts.get_many({item.site_id for item in items})

    def work(db: DbSession, start: int, end: int) -> ingest.HeadcountBatch:
        result = ingest.persist_headcounts(db, items[start:end], now, known_latest=held)
        held.update(result.latest)  # the next part of a split batch sees this one's reports
        return result

    early = worker.letters_of(rejected)
    sending = asyncio.ensure_future(worker.send_dead_letters(early))  # beside the database
    messages = [message for message, _ in parsed]
    parts, refused = await _apply(worker, messages, work, lambda r: r.rejected, early)
    accepted = len(items) - len(refused)
    latest: dict[str, rules.Observation] = {}
    site_regions: dict[str, str] = {}
    late: list[Letter] = []
    for start, result, letters in parts:
        rejected += [(messages[start + index], error) for index, error in result.rejected]
        late += letters
        accepted -= len(result.rejected)
        latest.update(result.latest)
        site_regions.update(result.site_regions)
    # the letters of the rejected (kept in the batch's transaction) go out beside the
    # plan-request check
    sending_late = asyncio.ensure_future(worker.send_dead_letters(late))

    def plan_requests() -> list[events.PlanRequest]:
        with session_scope(worker.engine) as db:
            return ingest.headcount_plan_requests(
                db,
                latest,
                site_regions,
                now,
                min_fraction=settings.change_min_fraction,
                min_workers=settings.change_min_workers,
                figures=worker.plan_figures,
            )

    requests = await worker.db(plan_requests, "checking headcount plan requests") if latest else []
    await worker.keep_dead_letters([(messages[index], error) for index, error in refused])
    await asyncio.gather(sending, sending_late)
    worker.count_dead_letters(rejected)
    worker.metrics.events_accepted.labels(topic=worker.topics.headcounts).inc(accepted)
    worker.headcounts.update(generation, latest)
    await worker.request_plans(_dedupe(requests))


async def handle_vehicle_statuses(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    now = worker.clock.now()
    parsed, rejected = await _parse_batch(worker, batch, events.parse_vehicle_status_event, now)
    items = [item for _, item in parsed]

    def work(db: DbSession, start: int, end: int) -> ingest.StatusBatch:
        return ingest.persist_vehicle_statuses(db, items[start:end], now, now)

    early = worker.letters_of(rejected)
    sending = asyncio.ensure_future(worker.send_dead_letters(early))  # beside the database
    messages = [message for message, _ in parsed]
    parts, refused = await _apply(worker, messages, work, lambda r: r.rejected, early)
    accepted = len(items) - len(refused)
    late: list[Letter] = []
    for start, result, letters in parts:
        rejected += [(messages[start + index], error) for index, error in result.rejected]
        late += letters
        accepted -= len(result.rejected)
    sending_late = asyncio.ensure_future(worker.send_dead_letters(late))

    def plan_requests() -> list[events.PlanRequest]:
        requests: list[events.PlanRequest] = []
        with session_scope(worker.engine) as db:
            for _, result, _ in parts:
                causes = {e.vehicle_id: e.event_id for e in result.new}
                requests += ingest.vehicle_plan_requests(
                    db, result.views, result.vehicle_regions, causes, now
                )
        return requests

    requests = await worker.db(plan_requests, "checking vehicle plan requests") if parts else []
    await worker.keep_dead_letters([(messages[index], error) for index, error in refused])
    await asyncio.gather(sending, sending_late)
    worker.count_dead_letters(rejected)
    worker.metrics.events_accepted.labels(topic=worker.topics.vehicle_status).inc(accepted)
    await worker.request_plans(_dedupe(requests))


def _dedupe(requests: Sequence[events.PlanRequest]) -> list[events.PlanRequest]:
    seen: dict[tuple[str, str, str], events.PlanRequest] = {}
    for request in requests:
        seen.setdefault((request.region, request.week, request.reason), request)
    return list(seen.values())


async def handle_plan_requests(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    received = time.monotonic()
    requests: list[events.PlanRequest] = []
    for event in batch:
        message = event.message
        try:
            requests.append(events.PlanRequest.model_validate_json(message.value or b""))
        except ValueError as exc:
            await worker.dead_letter(message, events.EventRejected("payload", str(exc)[:300]))
    jobs = rules.coalesce(requests)
    asked = await worker.db(lambda: asked_plans(worker.engine, jobs), "reading plan asks")
    for job in live_first(jobs, asked):  # re-plans caused by events before asked ones
        if asked & set(job.cause_event_ids):
            await worker.db(partial(take_up_asks, worker.engine, job), "taking up asks")
        await run_plan_job(worker, job, [r for r in requests if r.region == job.region], received)


async def run_plan_job(
    worker: Worker, job: rules.PlanJob, requests: Sequence[events.PlanRequest], received: float
) -> None:
    settings = worker.settings
    now = worker.clock.now()
    max_age = timedelta(hours=settings.next_week_max_age_hours)

    def still_needed() -> bool:
        from fleet.plans import latest_plan

        with session_scope(worker.engine) as db:
            newest = latest_plan(db, job.region, job.week)
            if newest is None:
                return True
            mine = [r for r in requests if r.week == job.week]
            if any(r.cause_event_id and r.requested_at > newest.created_at for r in mine):
                return True
            due = ingest.due_plan_requests(
                db,
                now,
                max_age,
                min_fraction=settings.change_min_fraction,
                min_workers=settings.change_min_workers,
                regions=[job.region],
            )
            return any(d.region == job.region and d.week == job.week for d in due)

    if not await worker.db(still_needed, "checking plan requests"):
        log.info("plan %s %s: already up to date (%s)", job.region, job.week, job.trigger)
        return
    hold = True if settings.hold_plans_for_approval else None
    try:
        run = await worker.in_thread(
            worker.plan_pool,
            lambda: plan_week(
                worker.engine,
                job.region,
                job.week,
                now,
                time_limit=settings.plan_time_limit,
                workers=settings.plan_workers,
                trigger=job.trigger,
                hold=hold,
                lock_hours=settings.lock_hours,
                change_penalty=settings.change_penalty,
            ),
        )
    except PlanningFailed as exc:
        log.error("planning failed: %s", exc)
        return
    except Exception:
        log.exception("planning %s %s failed", job.region, job.week)
        return
    if run.published:
        await worker.publisher.send_plan(run.plan, run.region, run.week, run.version)
        for assignment in run.assignments:
            await worker.publisher.send_assignment(assignment)
    worker.metrics.plans_published.labels(region=run.region).inc()
    worker.metrics.plan_latency.labels(region=run.region).observe(time.monotonic() - received)
    if run.gap is not None:
        worker.metrics.solver_gap.labels(region=run.region).set(run.gap)


async def reconcile(worker: Worker) -> None:
    """Sessions past their slot's end are done (or missed, when they never started);
    regions get the plans they are missing."""
    now = worker.clock.now()
    max_age = timedelta(hours=worker.settings.next_week_max_age_hours)
    lock_hours = worker.settings.lock_hours
    lock = timedelta(hours=lock_hours)

    def work() -> list[events.PlanRequest]:
        with session_scope(worker.engine) as db:
            done = ingest.finish_ended_sessions(db, now)
            if done:
                log.info("%d sessions done at their slot's end", done)
            locked = confirm_upcoming(db, now, now + lock)
            if locked:
                log.info("%d sessions confirmed: they start within %g h", locked, lock_hours)
            missed = mark_missed_sessions(db, now)
            if missed:
                log.info("%d sessions missed (their slot ended, nobody arrived)", missed)
            return ingest.due_plan_requests(
                db,
                now,
                max_age,
                min_fraction=worker.settings.change_min_fraction,
                min_workers=worker.settings.change_min_workers,
            )

    await worker.request_plans(await worker.db(work, "reconciling plans"))


def update_lag(worker: Worker, app: faust.App) -> None:
    """``rvrota_consumer_lag`` for exactly the partitions this worker holds now.

    Lag counts from the group's committed offset: the worker commits only events whose
    batch took effect, so a batch stuck in the database shows as lag that does not move
    (``StallWatch``), not only a fetcher that stopped reading. Events deleted by retention
    before they were consumed do not count (``refresh_lag`` asks where partitions start).
    """
    consumer = app.consumer
    held = set(consumer.assignment())
    held_keys = {(tp.topic, tp.partition) for tp in held}
    gauge = worker.metrics.consumer_lag
    for topic, partition in worker.lag_labels - held_keys:
        with contextlib.suppress(KeyError):
            gauge.remove(topic, str(partition))
        worker.lag_labels.discard((topic, partition))
    for tp in [tp for tp in worker.earliest if tp not in held]:
        del worker.earliest[tp]
    committed: Any = getattr(consumer, "_committed_offset", {})  # faust has no getter
    watched = (worker.topics.headcounts, worker.topics.vehicle_status)
    progress: dict[tuple[str, int], tuple[int, int]] = {}
    for tp in held:
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not known yet: report the partition as held
            highwater = None
        commit = committed.get(tp)
        position = consumed_position(commit, worker.earliest.get(tp))
        lag = max(0, highwater - position) if highwater is not None else 0
        gauge.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
        worker.lag_labels.add((tp.topic, tp.partition))
        known = commit is not None or tp in worker.earliest
        if tp.topic in watched and highwater is not None and known:
            progress[(tp.topic, tp.partition)] = (position, lag)
    worker.stall.observe(progress, time.monotonic())


async def refresh_lag(worker: Worker, app: faust.App) -> None:
    """``update_lag``, after asking the broker where each lagging partition starts."""
    consumer = app.consumer
    committed: Any = getattr(consumer, "_committed_offset", {})
    lagging = []
    for tp in consumer.assignment():
        with contextlib.suppress(Exception):  # highwater not known yet
            if consumer.highwater(tp) > (committed.get(tp) or 0):
                lagging.append(tp)
    if lagging:
        try:
            worker.earliest.update(await consumer.earliest_offsets(*lagging))
        except Exception as exc:  # noqa: BLE001 - figures only; the next tick retries
            log.debug("earliest offsets not known: %s", exc)
    update_lag(worker, app)


async def batches(stream: Any, size: int) -> AsyncIterator[list[faust.EventT]]:
    """The stream's events in arrival order, in batches of what is already waiting.

    A batch ends when ``size`` events are in it or when the stream's buffer is empty, so
    a lone event is handled at once and a backlog goes in large batches (group commit):
    while one batch is being persisted, the next one gathers in the buffer.
    """
    queue = stream.channel.queue
    batch: list[faust.EventT] = []
    async for _ in stream:
        batch.append(stream.current_event)
        if len(batch) >= size or queue.empty():
            yield batch
            batch = []


async def pipelined(
    stream: Any,
    size: int,
    handle: Callable[[Sequence[faust.EventT]], Awaitable[None]],
    drain_seconds: float = 15.0,
) -> None:
    """Batches handled one at a time and in order, while the next batch fills.

    Events are taken without acknowledgement (``noack``) and acknowledged only once their
    batch has taken effect, so a crash at any point redelivers them (at-least-once).
    At most one batch is in flight: batch k+1 starts after batch k is done and acked.
    When the worker stops, the batch under way is finished and acknowledged (for up to
    ``drain_seconds``) so that the final commit covers it.
    """
    manual = stream.noack()

    async def run(batch: Sequence[faust.EventT]) -> None:
        await handle(batch)
        for event in batch:
            await manual.ack(event)

    in_flight: asyncio.Future[None] | None = None
    try:
        async for batch in batches(manual, size):
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.ensure_future(run(batch))
    finally:
        if in_flight is not None and not in_flight.done():
            await finish(in_flight, drain_seconds)


async def finish(task: asyncio.Future[Any], timeout: float) -> None:
    """Wait up to ``timeout`` for ``task``, through requests to stop (then re-raised);
    cancel it if it is still running then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    stop_requested = False
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("a batch did not finish within %.0f s of stopping; cancelled", timeout)
            task.cancel()
            break
        try:
            await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:
            stop_requested = True
    if stop_requested:
        raise asyncio.CancelledError


# --- the app ---------------------------------------------------------------------------


class WorkerApp(faust.App):
    """``faust.App`` with the eager transport and without Faust's statistics sensor.

    Faust's ``Monitor`` keeps statistics for Faust's own web views (disabled here) and
    is called several times for every event; the worker's figures are in
    ``core.metrics``. The monitor object stays (the consumer records commits in it);
    it is only no longer called per event.
    """

    def _new_transport(self) -> Any:
        return EagerTransport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies


def create_app(
    settings: StreamsSettings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    metrics: ServiceMetrics | None = None,
) -> faust.App:
    """The worker's Faust app; nothing connects until the app is started."""
    topics = Topics.with_prefix(settings.topic_prefix)
    worker = Worker(
        settings=settings,
        topics=topics,
        clock=clock or clock_from_settings(settings),
        engine=engine or make_engine(settings.database_url),
        metrics=metrics or create_metrics(),
        publisher=EventPublisher(settings.kafka_bootstrap, topics=topics, linger_ms=5),
        stall=StallWatch(settings.ready_stall_seconds),
    )
    datadir = Path(tempfile.gettempdir()) / "rvrota-faust" / settings.worker_group
    datadir.mkdir(parents=True, exist_ok=True)
    app = WorkerApp(
        settings.worker_group,
        broker=broker_urls(settings.kafka_bootstrap),
        store="memory://",
        autodiscover=False,
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication,
        producer_acks=-1,
        producer_linger_ms=10,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        broker_rebalance_timeout=20.0,
        stream_wait_empty=False,
        stream_buffer_maxsize=settings.stream_buffer_size,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.rvrota = worker  # type: ignore[attr-defined]

    partitions = settings.kafka_partitions

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(
            name, key_type=bytes, value_type=bytes, partitions=partitions, internal=True
        )

    headcounts = raw_topic(topics.headcounts)
    statuses = raw_topic(topics.vehicle_status)
    plan_requests = raw_topic(topics.plan_requests)
    declared = [
        app.topic(
            topics.plans, value_type=records.PlanPublished, partitions=partitions, internal=True
        ),
        app.topic(
            topics.vehicle_assignments,
            value_type=records.VehicleAssigned,
            partitions=partitions,
            internal=True,
        ),
        app.topic(
            topics.dead_letters,
            value_type=records.DeadLettered,
            partitions=partitions,
            internal=True,
        ),
    ]

    batch_size = settings.ingest_batch_size
    # the batch under way may take most of the stop budget; the rest is for the final
    # commit before the process ends anyway (streams.stopping)
    drain = max(settings.stop_drain_seconds - 2.0, settings.stop_drain_seconds / 2)

    @app.agent(headcounts, concurrency=1, name="ingest-headcounts")
    async def ingest_headcounts(stream: Any) -> None:
        await pipelined(stream, batch_size, lambda b: handle_headcounts(worker, b), drain)

    @app.agent(statuses, concurrency=1, name="ingest-vehicle-statuses")
    async def ingest_vehicle_statuses(stream: Any) -> None:
        await pipelined(
            stream,
            batch_size,
            lambda b: handle_vehicle_statuses(worker, b),
            drain,
        )

    @app.agent(plan_requests, concurrency=1, name="plan-regions")
    async def plan_regions(stream: Any) -> None:
        async for batch in stream.take_events(1000, within=settings.plan_coalesce_seconds):
            await handle_plan_requests(worker, batch)

    @app.timer(settings.reconcile_seconds, on_leader=True, name="reconcile-plans")
    async def reconcile_plans() -> None:
        await reconcile(worker)

    @app.timer(2.0, name="consumer-lag")
    async def consumer_lag() -> None:
        await refresh_lag(worker, app)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.partitions_moved()
        update_lag(worker, app)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.partitions_moved()
        update_lag(worker, app)

    class WorkerServices(mode.Service):
        """The publisher, the health server and the thread pools, started with the app."""

        health: HealthServer | None = None

        async def on_start(self) -> None:
            await worker.publisher.start()
            for topic in declared:
                await topic.maybe_declare()
            self.health = HealthServer(
                build_health_app(
                    worker.metrics,
                    worker.ready_problems,
                    MetricsAccess.of(settings.metrics_client_list(), settings.metrics_token),
                ),
                settings.api_host,
                settings.worker_port,
            )
            await self.health.start()

        async def on_stop(self) -> None:
            # Faust stops this service before the agents; the agents go first here so
            # that a batch under way finishes with the publisher and the database pool
            # still up, and is acknowledged before the consumer's final commit
            await app.agents.stop()
            worker.stopping = True
            if self.health is not None:
                await self.health.stop()
            await worker.publisher.stop()
            worker.db_pool.shutdown(wait=True)
            worker.plan_pool.shutdown(wait=False, cancel_futures=True)

    app.service(WorkerServices)
    return app


def worker_of(app: faust.App) -> Worker:
    found: Worker = app.rvrota  # type: ignore[attr-defined]
    return found
