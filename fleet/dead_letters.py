"""Dead letters kept in the database: stored by the stream worker, listed and replayed by
dispatchers. Idempotent: one row per source position (topic, partition, offset)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from fleet.db import DbSession
from fleet.events import DeadLetter
from fleet.models import DeadLetterRecord

__all__ = [
    "NotReplayable",
    "get_dead_letter",
    "list_dead_letters",
    "mark_replayed",
    "replayable",
    "store",
]


class NotReplayable(ValueError):
    """The letter cannot be produced again (its original was cut)."""


_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "key",
    "original",
    "original_size",
    "original_sha256",
    "truncated",
    "field",
    "reason",
    "rejected_at",
    "replays",
)

# one constant text on PostgreSQL: psycopg sends the rows in one pipeline and prepares
# the statement once per connection (SQLAlchemy's many-values form is a new text for
# each number of rows, parsed and planned afresh); its row count is the sum of the rows
_PG_INSERT = (
    "INSERT INTO dead_letter ("
    + ", ".join(f'"{name}"' for name in _COLUMNS)
    + ") VALUES ("
    + ", ".join(f"%({name})s" for name in _COLUMNS)
    + ') ON CONFLICT (topic, "partition", "offset") DO NOTHING'
)


def store(db: DbSession, letters: Sequence[DeadLetter]) -> int:
    """Keep each letter once (a letter already kept for its position is left as it is);
    return how many were new."""
    if not letters:
        return 0
    rows = [
        {
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "key": letter.key,
            "original": letter.original,
            "original_size": letter.original_size,
            "original_sha256": letter.original_sha256,
            "truncated": letter.truncated,
            "field": letter.field,
            "reason": letter.reason,
            "rejected_at": letter.rejected_at.astimezone(UTC),
            "replays": 0,
        }
        for letter in letters
    ]
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(_PG_INSERT, rows)
            return int(cursor.rowcount)
    table: Any = DeadLetterRecord.__table__  # type: ignore[attr-defined]
    stmt = sqlite_insert(table).on_conflict_do_nothing(
        index_elements=["topic", "partition", "offset"]
    )
    return int(connection.execute(stmt, rows).rowcount)


def list_dead_letters(
    db: DbSession, *, topic: str | None = None, limit: int = 100
) -> list[DeadLetterRecord]:
    """The newest letters first, of one topic when given."""
    query = select(DeadLetterRecord)
    if topic:
        query = query.where(DeadLetterRecord.topic == topic)
    query = query.order_by(
        col(DeadLetterRecord.rejected_at).desc(), col(DeadLetterRecord.id).desc()
    )
    return list(db.exec(query.limit(limit)))


def get_dead_letter(db: DbSession, letter_id: int) -> DeadLetterRecord | None:
    return db.get(DeadLetterRecord, letter_id)


def replayable(record: DeadLetterRecord) -> tuple[str, bytes | None, bytes]:
    """(topic, key, value) to produce again; ``NotReplayable`` when the original was cut."""
    if record.truncated:
        raise NotReplayable(
            f"the original ({record.original_size} bytes) was kept cut; it cannot be replayed"
        )
    letter = DeadLetter(
        original=record.original,
        key=record.key,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        field=record.field,
        reason=record.reason,
        rejected_at=record.rejected_at,
    )
    return record.topic, letter.key_bytes(), letter.original_bytes()


def mark_replayed(db: DbSession, letter_id: int, now: datetime) -> DeadLetterRecord | None:
    record = db.get(DeadLetterRecord, letter_id)
    if record is None:
        return None
    record.replayed_at = now
    record.replays += 1
    db.add(record)
    db.flush()
    return record
