"""The bodies of the two ingest agents: one batch of raw headcount or status events.

Each event is parsed with the contract (``fleet.events``); bad ones are dead-lettered
with their original bytes. The accepted ones are persisted in one transaction per batch
(``streams.ingest``), an event the database refuses for its content is isolated
(``streams.isolate``), and material changes ask for a plan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import faust

from fleet import dead_letters, events
from fleet.db import DbSession, begin_write, session_scope
from streams import ingest, isolate, rules
from streams.batching import Rest
from streams.timeline import log_timeline
from streams.worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")
ParsedT = TypeVar("ParsedT")


class _Rejecting(Protocol):
    """What a batch's database step returns: at least the events it rejected (by index)."""

    @property
    def rejected(self) -> Sequence[tuple[int, events.EventRejected]]: ...


R = TypeVar("R", bound=_Rejecting)


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
            rejected.append((message, exc.kept()))
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


@dataclass
class _Outcome(Generic[R]):
    """A batch applied: its parsed messages, each applied part's (first index, result),
    the events the database refused (index, reason), how many took effect, and the
    sending of all its dead letters (kept in its transaction already)."""

    messages: list[Any]
    parts: list[tuple[int, R]]
    refused: list[tuple[int, events.EventRejected]]
    accepted: int
    sending: asyncio.Future[None]


async def _apply_parsed(
    worker: Worker,
    parsed: Sequence[tuple[Any, Any]],
    rejected: list[tuple[Any, events.EventRejected]],
    run: Callable[[DbSession, int, int], R],
) -> _Outcome[R]:
    """The parsed events applied (``_apply``), then the letters of all the batch's
    rejected sent; ``rejected`` gains the events a part rejected."""
    early = worker.letters_of(rejected)
    messages = [message for message, _ in parsed]
    applied, refused = await _apply(worker, messages, run, lambda r: r.rejected, early)
    accepted = len(parsed) - len(refused)
    late: list[Letter] = []
    for start, result, letters in applied:
        rejected += [(messages[start + index], error) for index, error in result.rejected]
        late += letters
        accepted -= len(result.rejected)
    sending = asyncio.ensure_future(worker.send_dead_letters(early + late))
    parts = [(start, result) for start, result, _ in applied]
    return _Outcome(messages, parts, refused, accepted, sending)


async def _finish(
    worker: Worker,
    topic: str,
    outcome: _Outcome[Any],
    requests: Sequence[events.PlanRequest],
    rejected: Sequence[tuple[Any, events.EventRejected]],
) -> Rest:
    """Letters of the refused kept, the accepted counted, the plans asked for; what is
    left is the delivery of the batch's letters (``_delivered``)."""
    messages = outcome.messages
    await worker.keep_dead_letters([(messages[index], error) for index, error in outcome.refused])
    worker.metrics.events_accepted.labels(topic=topic).inc(outcome.accepted)
    await worker.request_plans(_dedupe(requests))
    return _delivered(worker, [outcome.sending], rejected)


async def handle_headcounts(worker: Worker, batch: Sequence[faust.EventT]) -> Rest:
    """One batch of headcount reports; what is left is the delivery of its dead letters
    (kept in its transaction already), which runs beside the next batch."""
    received = time.time()
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

    # the letters of the rejected (kept in the batch's transaction) go out beside the
    # plan-request check
    outcome = await _apply_parsed(worker, parsed, rejected, work)
    latest: dict[str, rules.Observation] = {}
    site_regions: dict[str, str] = {}
    for _, result in outcome.parts:
        latest.update(result.latest)
        site_regions.update(result.site_regions)

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

    persisted = time.time()
    requests = await worker.db(plan_requests, "checking headcount plan requests") if latest else []
    checked = time.time()
    worker.headcounts.update(generation, latest)
    rest = await _finish(worker, worker.topics.headcounts, outcome, requests, rejected)
    if requests:
        marks = {"received": received, "persisted": persisted, "checked": checked}
        marks["requested"] = time.time()
        causes = sorted({r.cause_event_id for r in requests if r.cause_event_id})
        log_timeline(log, "headcounts", causes, marks)
    return rest


async def handle_vehicle_statuses(worker: Worker, batch: Sequence[faust.EventT]) -> Rest:
    """One batch of vehicle status reports; what is left as in ``handle_headcounts``."""
    now = worker.clock.now()
    parsed, rejected = await _parse_batch(worker, batch, events.parse_vehicle_status_event, now)
    items = [item for _, item in parsed]

    def work(db: DbSession, start: int, end: int) -> ingest.StatusBatch:
        return ingest.persist_vehicle_statuses(db, items[start:end], now, now)

    outcome = await _apply_parsed(worker, parsed, rejected, work)

    def plan_requests() -> list[events.PlanRequest]:
        requests: list[events.PlanRequest] = []
        with session_scope(worker.engine) as db:
            for _, result in outcome.parts:
                causes = {e.vehicle_id: e.event_id for e in result.new}
                requests += ingest.vehicle_plan_requests(
                    db, result.views, result.vehicle_regions, causes, now
                )
        return requests

    parts = outcome.parts
    requests = await worker.db(plan_requests, "checking vehicle plan requests") if parts else []
    return await _finish(worker, worker.topics.vehicle_status, outcome, requests, rejected)


def _delivered(
    worker: Worker,
    sending: Sequence[asyncio.Future[None]],
    rejected: Sequence[tuple[Any, events.EventRejected]],
) -> Rest:
    """The batch's dead letters on their topic (then counted), or None when it had none."""
    if not rejected:
        return None

    async def deliver() -> None:
        await asyncio.gather(*sending)
        worker.count_dead_letters(rejected)

    return deliver()


def _dedupe(requests: Sequence[events.PlanRequest]) -> list[events.PlanRequest]:
    seen: dict[tuple[str, str, str], events.PlanRequest] = {}
    for request in requests:
        seen.setdefault((request.region, request.week, request.reason), request)
    return list(seen.values())
