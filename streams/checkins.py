"""The check-in agent's body: ``rvrota.checkins`` kept once each, bad ones dead-lettered.

The same path as the ingest agents (``streams.ingest_handlers``): each value is parsed against the
contract (``fleet.events``), the batch is kept in one transaction isolating any event the
database refuses (``streams.isolate``), and what breaks a rule (the field named: an
unknown session, outside its window, an amenity the vehicle has not) goes to the
dead-letter topic and table. Keeping is idempotent by ``event_id``, and a QR check-in
of a (session, device) already kept has no second effect (``fleet.checkins``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust

from fleet import checkins, events
from fleet.db import DbSession
from streams import ingest_handlers
from streams.ingest_handlers import Letter

if TYPE_CHECKING:
    from streams.worker import Worker


def _parse(raw: bytes, now: datetime, *, max_future_seconds: int, max_bytes: int) -> Any:
    # the window and the clock are checked with the session, in ``persist_checkins``
    return events.parse_checkin_event(raw, max_bytes=max_bytes)


async def handle_checkins(worker: Worker, batch: Sequence[faust.EventT]) -> None:
    """Keep a batch of check-ins; dead-letter the bad ones."""
    now = worker.clock.now()
    parsed, rejected = await ingest_handlers._parse_batch(worker, batch, _parse, now)
    items: list[events.CheckinEvent] = [item for _, item in parsed]
    max_future = worker.settings.event_max_future_seconds

    def work(db: DbSession, start: int, end: int) -> checkins.CheckinBatch:
        return checkins.persist_checkins(
            db,
            items[start:end],
            now,
            now,
            max_future_seconds=max_future,
            points_per_checkin=worker.settings.points_per_checkin,
        )

    early = worker.letters_of(rejected)
    sending = asyncio.ensure_future(worker.send_dead_letters(early))
    messages = [message for message, _ in parsed]
    parts, refused = await ingest_handlers._apply(
        worker, messages, work, lambda r: r.rejected, early
    )
    accepted = len(items) - len(refused)
    late: list[Letter] = []
    for start, result, letters in parts:
        rejected += [(messages[start + index], error) for index, error in result.rejected]
        late += letters
        accepted -= len(result.rejected)
    await worker.keep_dead_letters([(messages[index], error) for index, error in refused])
    await asyncio.gather(sending, worker.send_dead_letters(late))
    worker.count_dead_letters(rejected)
    worker.metrics.events_accepted.labels(topic=worker.topics.checkins).inc(accepted)
