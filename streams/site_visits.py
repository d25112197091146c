"""The booking side's agent body: ``rvrota.site-visits`` moves or cancels the workers'
bookings of the sessions a new plan changed.

The same path as the check-ins (``streams.checkins``): each value is parsed against the
contract (``fleet.events.parse_site_visits``), the batch is applied in one transaction
isolating any message the database refuses (``streams.isolate``), and a message that
breaks a rule (the field named: not JSON, a session of another site, an unknown session,
one that is not what the message says) goes to the dead-letter topic and table. A message
takes effect once, by its (region, week, site, version) (``fleet.bookings``), so a
redelivery moves nothing twice; its effects are what the workers' pages read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust

from fleet import bookings, events
from fleet.db import DbSession
from streams import ingest_handlers
from streams.ingest_handlers import Letter

if TYPE_CHECKING:
    from streams.worker import Worker

log = logging.getLogger(__name__)


def _parse(raw: bytes, now: datetime, *, max_future_seconds: int, max_bytes: int) -> Any:
    return events.parse_site_visits(raw, max_bytes=max_bytes)


async def handle_site_visits(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    """Apply a batch of site-visits messages to the bookings; dead-letter the bad ones."""
    now = worker.clock.now()
    topic = worker.topics.site_visits
    parsed, rejected = await ingest_handlers._parse_batch(worker, batch, _parse, now)
    items: list[events.SiteVisitsEvent] = [item for _, item in parsed]

    def work(db: DbSession, start: int, end: int) -> bookings.FollowBatch:
        return bookings.follow_site_visit_batch(db, items[start:end], now, topic)

    early = worker.letters_of(rejected)
    sending = asyncio.ensure_future(worker.send_dead_letters(early))
    messages = [message for message, _ in parsed]
    parts, refused = await ingest_handlers._apply(
        worker, messages, work, lambda r: r.rejected, early
    )
    accepted = len(items) - len(refused)
    late: list[Letter] = []
    moved = cancelled = 0
    for start, result, letters in parts:
        rejected += [(messages[start + index], error) for index, error in result.rejected]
        late += letters
        accepted -= len(result.rejected)
        moved += result.moved
        cancelled += result.cancelled
    await worker.keep_dead_letters([(messages[index], error) for index, error in refused])
    await asyncio.gather(sending, worker.send_dead_letters(late))
    worker.count_dead_letters(rejected)
    worker.metrics.events_accepted.labels(topic=topic).inc(accepted)
    if moved or cancelled:
        log.info("site visits: %d bookings moved, %d cancelled", moved, cancelled)
