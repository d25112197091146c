"""The transactional outbox: events accepted by the API, kept until they are on Kafka.

A write of the API stores its event here, and the answer to its ``Idempotency-Key``
beside it, in one transaction (``accept``): once that commits, the event is accepted
whatever the broker does, and a retry with the same key gets the same answer. The API's
relay (``api.relay``) reads the unsent rows in insertion order (``pending``), publishes
them and marks them sent (``mark_sent``); sent rows are deleted after a retention
(``prune``). On PostgreSQL one of several API replicas relays at a time
(``take_relay_lease``, a session-level advisory lock), so that the rows of one key reach
the topic in the order they were accepted; on a SQLite file the lease is a lock on a
file beside it (``<database>.relay-lease``), for API processes of one machine.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet.models import api_idempotency, outbox

__all__ = [
    "Answer",
    "Backlog",
    "Message",
    "Pending",
    "accept",
    "backlog",
    "create_outbox_table",
    "enqueue",
    "mark_sent",
    "pending",
    "prune",
    "lease_alive",
    "release_relay_lease",
    "take_relay_lease",
    "turns_are_taken",
]

# any constant shared by every replica: the key of the relay's advisory lock
RELAY_LOCK = 0x7276726F_7461  # "rvrota"


@dataclass(frozen=True)
class Message:
    """One message for Kafka: topic, key, UTF-8 JSON value, the event id when it has one."""

    topic: str
    key: str
    value: bytes
    event_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """The stored answer to a caller's ``Idempotency-Key`` (see ``fleet.idempotency``)."""

    user_id: int
    key: str
    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True)
class Pending:
    id: int
    topic: str
    key: str
    value: bytes
    created_at: datetime


@dataclass(frozen=True)
class Backlog:
    depth: int
    oldest: datetime | None

    def age_seconds(self, now: datetime) -> float:
        """Seconds the oldest unsent row has waited (0 when none waits)."""
        return 0.0 if self.oldest is None else max(0.0, (now - self.oldest).total_seconds())


def create_outbox_table(engine: Engine) -> None:
    """Create the table when missing (a database made from the models, not the migrations)."""
    outbox.create(engine, checkfirst=True)


def _rows(messages: Sequence[Message], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "topic": m.topic,
            "message_key": m.key,
            "value": m.value,
            "event_id": m.event_id,
            "created_at": now,
        }
        for m in messages
    ]


def _store_answer(conn: Connection, answer: Answer) -> None:
    conn.execute(
        update(api_idempotency)
        .where(
            (api_idempotency.c.user_id == answer.user_id) & (api_idempotency.c.key == answer.key)
        )
        .values(status_code=answer.status_code, response=answer.response)
    )


def accept(
    engine: Engine, messages: Sequence[Message], now: datetime, answer: Answer | None = None
) -> bool:
    """Store ``messages`` and ``answer`` in one transaction; False when already stored.

    An event id is stored once per topic: a second request carrying an event id that is
    already in the outbox (a retry after a lost answer) adds nothing, and its answer is
    still stored.
    """
    rows = _rows(messages, now)
    try:
        with engine.begin() as conn:
            if rows:
                conn.execute(outbox.insert(), rows)
            if answer is not None:
                _store_answer(conn, answer)
        return True
    except IntegrityError:
        pass
    if answer is not None:
        with engine.begin() as conn:
            _store_answer(conn, answer)
    return False


def enqueue(db: Connection | Session, messages: Sequence[Message], now: datetime) -> None:
    """Add ``messages`` inside the caller's transaction (a write with more effects)."""
    if messages:
        db.execute(outbox.insert(), _rows(messages, now))


def enqueue_once(db: Session, messages: Sequence[Message], now: datetime) -> int:
    """Add ``messages`` inside the caller's transaction, skipping any whose event id the
    outbox holds already for its topic (a retry); how many were added."""
    if not messages:
        return 0
    insert_fn: Any = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = 0
    for row in _rows(messages, now):
        stmt = insert_fn(outbox).values(row).on_conflict_do_nothing().returning(outbox.c.id)
        added += len(db.execute(stmt).all())
    return added


LEASE_FD = "rvrota_relay_lease_fd"  # in a SQLite connection's info: the lease file held


def _lease_file(url: URL) -> str | None:
    """The SQLite lease's file, beside the database; None for a database in memory."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # a URI filename: its path, without the query
        database = database[len("file:") :].split("?", 1)[0]
    return os.path.abspath(database) + ".relay-lease"


def turns_are_taken(engine: Engine) -> bool:
    """Whether relays of several processes coordinate (PostgreSQL, a SQLite file) or one
    process relays (SQLite in memory)."""
    return engine.dialect.name == "postgresql" or _lease_file(engine.url) is not None


def take_relay_lease(conn: Connection) -> bool:
    """On a connection of its own (autocommit): True when this process may relay now.

    One relay at a time reads, publishes and marks rows, so that no row is published by
    two at once and the rows of one key keep their order. On PostgreSQL a session-level
    advisory lock, which lasts as long as the connection (it goes when its process dies)
    and holds no transaction open; on a SQLite file an exclusive lock (``flock``) on the
    lease file, held by the connection until ``release_relay_lease`` (it goes when its
    process dies). SQLite in memory: always True.
    """
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK})
        return bool(found.scalar())
    path = _lease_file(conn.engine.url)
    if path is None or LEASE_FD in conn.info:
        return True
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except BaseException:
        os.close(fd)
        raise
    conn.info[LEASE_FD] = fd
    return True


def lease_alive(conn: Connection) -> None:
    """Raise when the connection that holds the lease is gone (and the lease with it)."""
    conn.execute(text("SELECT 1"))
    held = LEASE_FD in conn.info
    if conn.dialect.name == "sqlite" and _lease_file(conn.engine.url) is not None and not held:
        raise RuntimeError("the relay lease is no longer held")


def release_relay_lease(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK})
        return
    fd = conn.info.pop(LEASE_FD, None)
    if fd is not None:
        os.close(fd)  # the lock goes with the file's last descriptor


def pending(conn: Connection, limit: int) -> list[Pending]:
    """The oldest ``limit`` unsent rows, in insertion order."""
    result = conn.execute(
        select(
            outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.value, outbox.c.created_at
        )
        .where(outbox.c.sent_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [Pending(int(r[0]), r[1], r[2], bytes(r[3]), r[4]) for r in result]


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    if ids:
        conn.execute(update(outbox).where(outbox.c.id.in_(list(ids))).values(sent_at=now))


def prune(engine: Engine, before: datetime, limit: int = 5000) -> int:
    """Delete up to ``limit`` rows sent before ``before``; the number deleted."""
    with engine.begin() as conn:
        ids = select(outbox.c.id).where(outbox.c.sent_at < before).limit(limit).scalar_subquery()
        result = conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
        return int(result.rowcount or 0)


def backlog(engine: Engine) -> Backlog:
    """How many rows wait to be published, and since when the oldest waits."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
        ).one()
    return Backlog(int(row[0]), row[1])
