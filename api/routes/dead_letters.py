"""The dispatchers' dead-letter view: events that could not be accepted, and their replay.

The stream worker keeps every dead letter in the database (``fleet.dead_letters``) as it
sends it to ``rvrota.dead-letters``. A replay produces the original value with its
original key to its original topic again, after the cause was fixed (a site created, a
sender corrected); it takes effect once (events are idempotent by ``event_id``) or is
dead-lettered again with its new reason.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool

from api import schemas
from api.deps import DbDep, Dispatcher, ServicesDep
from api.relay import wall_now
from api.store import not_found
from fleet import dead_letters, events, outbox
from fleet.db import session_scope
from fleet.models import DeadLetterRecord

router = APIRouter(tags=["dead letters"])
REPLAYABLE_TOPICS = (*events.INGEST_TOPICS, events.PLAN_REQUESTS_TOPIC)


def letter_public(record: DeadLetterRecord) -> schemas.DeadLetterPublic:
    assert record.id is not None
    original = base64.b64decode(record.original)
    return schemas.DeadLetterPublic(
        id=record.id,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        field=record.field,
        reason=record.reason,
        rejected_at=record.rejected_at,
        key=record.key,
        original=record.original,
        original_text=events.printable(original.decode("utf-8", "replace")),
        original_size=record.original_size,
        original_sha256=record.original_sha256,
        truncated=record.truncated,
        replayed_at=record.replayed_at,
        replays=record.replays,
    )


@router.get("/dead-letters", response_model=list[schemas.DeadLetterPublic])
def list_dead_letters(
    _: Dispatcher,
    db: DbDep,
    topic: Annotated[str | None, Query(max_length=249, description="source topic")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[schemas.DeadLetterPublic]:
    """The newest dead letters first: reason, source topic, time and the original."""
    return [letter_public(r) for r in dead_letters.list_dead_letters(db, topic=topic, limit=limit)]


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=message)


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such dead letter"},
    409: {"description": "this letter cannot be replayed (cut original, key, topic)"},
}


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=schemas.DeadLetterReplayed,
    status_code=202,
    responses=RESPONSES,
)
async def replay_dead_letter(
    services: ServicesDep, _: Dispatcher, letter_id: schemas.DbId
) -> schemas.DeadLetterReplayed:
    """Produce the original again, with its key, to its topic (after the cause is fixed)."""

    def find() -> tuple[str, bytes | None, bytes]:
        with session_scope(services.engine) as db:
            record = dead_letters.get_dead_letter(db, letter_id)
            if record is None:
                raise not_found("dead letter", letter_id)
            try:
                return dead_letters.replayable(record)
            except dead_letters.NotReplayable as exc:
                raise _conflict(str(exc)) from exc

    topic, key, value = await run_in_threadpool(find)
    if not any(topic == name or topic.endswith("." + name) for name in REPLAYABLE_TOPICS):
        raise _conflict(f"letters of {topic!r} are not replayed")
    try:
        text_key = key.decode("utf-8") if key is not None else None
    except UnicodeDecodeError:
        text_key = None
    if text_key is None:
        raise _conflict("the original key is missing or not UTF-8; it cannot be replayed")

    def mark() -> schemas.DeadLetterReplayed:
        # the original goes into the outbox in the same transaction as the mark: a replay
        # answered 202 is produced once, broker up or down
        with session_scope(services.engine) as db:
            record = dead_letters.mark_replayed(db, letter_id, services.clock.now())
            if record is None or record.replayed_at is None:
                raise not_found("dead letter", letter_id)
            outbox.enqueue(db, [outbox.Message(topic, text_key, value)], wall_now())
            return schemas.DeadLetterReplayed(
                id=letter_id, topic=topic, replays=record.replays, replayed_at=record.replayed_at
            )

    replayed = await run_in_threadpool(mark)
    services.relay.notify()
    return replayed
