"""Dead letters in the database: a letter over the size limit keeps what events.md says (its
first 512 KiB as base64, its full size and SHA-256), and on PostgreSQL the original is
compressed with lz4 (cheaper to write in the ingest batch's transaction than pglz), both
after the migrations and after ``create_all``. Real SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from fleet import dead_letters, events
from fleet.db import create_all, make_engine, session_scope
from fleet.dbtypes import lz4_supported
from fleet.migrate import upgrade

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _letter(value: bytes, offset: int) -> events.DeadLetter:
    return events.DeadLetter.of(
        value,
        b"S001",
        events.HEADCOUNTS_TOPIC,
        0,
        offset,
        events.EventRejected("payload", f"is {len(value)} bytes, over the 65536-byte limit"),
        NOW,
    )


def _migrated(url: str) -> Engine:
    upgrade(url)
    return make_engine(url)


def _created(url: str) -> Engine:
    engine = make_engine(url)
    create_all(engine)
    return engine


@pytest.mark.parametrize("schema", [_migrated, _created], ids=["migrations", "create_all"])
def test_a_letter_over_the_limit_keeps_its_cut_original_size_and_hash(
    database_url: str, schema: Callable[[str], Engine]
) -> None:
    engine = schema(database_url)
    huge = b'{"event_id": "X1", "pad": "' + b"x" * 900_000 + b'"}'
    small = b'{"event_id": "X2", "site_id": "S\\u0000"}'
    try:
        with session_scope(engine) as db:
            assert dead_letters.store(db, [_letter(huge, 7), _letter(small, 8)]) == 2
        with session_scope(engine) as db:
            rows = {r.offset: r for r in dead_letters.list_dead_letters(db)}
            cut, whole = rows[7], rows[8]
            assert cut.truncated and cut.original_size == len(huge)
            assert cut.original_sha256 == hashlib.sha256(huge).hexdigest()
            assert base64.b64decode(cut.original) == huge[: events.KEEP_ORIGINAL_BYTES]
            assert not whole.truncated and base64.b64decode(whole.original) == small
            with pytest.raises(dead_letters.NotReplayable):
                dead_letters.replayable(cut)
            assert dead_letters.replayable(whole)[2] == small
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert lz4_supported(conn), "this PostgreSQL is built without lz4"
                declared = conn.execute(
                    text(
                        "SELECT attcompression FROM pg_attribute WHERE attrelid = "
                        "'dead_letter'::regclass AND attname = 'original'"
                    )
                ).scalar_one()
                stored = conn.execute(
                    text(
                        'SELECT pg_column_compression(original) FROM dead_letter WHERE "offset" = 7'
                    )
                ).scalar_one()
            assert (declared, stored) == ("l", "lz4")
    finally:
        engine.dispose()
