"""Isolating the event at fault in a batch, on real SQLite and PostgreSQL: what the
database refuses for its content is split down to; its other trouble refuses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from fleet.db import DbSession, begin_write, make_engine, session_scope
from streams import isolate


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A table whose trigger refuses the value 13 (a content error of the database)."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE item (x INTEGER PRIMARY KEY, note TEXT)"))
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON item WHEN NEW.x = 13 "
                    "BEGIN SELECT RAISE(ABORT, 'thirteen'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.x = 13 THEN RAISE EXCEPTION 'thirteen'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON item "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    yield engine
    engine.dispose()


def _insert(values: list[tuple[int, str]]) -> object:
    def run(db: DbSession, start: int, end: int) -> int:
        rows = [{"x": x, "note": note} for x, note in values[start:end]]
        db.execute(text("INSERT INTO item (x, note) VALUES (:x, :note)"), rows)
        return end - start

    return run


def _stored(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(x) for x in conn.execute(text("SELECT x FROM item ORDER BY x")).scalars()]


def test_a_batch_keeps_all_but_the_events_the_database_refuses(engine: Engine) -> None:
    """Two poison values among 100, in one transaction: 98 kept, the two refused by index."""
    values = [(100 + i, "ok") for i in range(100)]
    values[40] = (13, "ok")  # the trigger refuses it
    values[70] = (107, "ok")  # the same key as index 7: a constraint
    with session_scope(engine) as db:
        begin_write(db)
        applied = isolate.apply_in_savepoints(db, len(values), _insert(values))  # type: ignore[arg-type]
    assert sorted(index for index, _ in applied.refused) == [40, 70]
    refused = dict(applied.refused)
    assert 40 in refused and "the database refused it" in refused[40].reason
    assert refused[40].field == "payload"
    kept = _stored(engine)
    assert len(kept) == 98 and 13 not in kept
    assert sum(n for _, n in applied.parts) == 98  # type: ignore[misc]
    assert applied.splits <= 2 * 7 * 2


def test_what_the_database_cannot_take_is_content_and_a_missing_table_is_not(
    engine: Engine,
) -> None:
    def error_of(statement: str, params: dict[str, object]) -> BaseException:
        with pytest.raises(Exception) as caught, session_scope(engine) as db:
            db.execute(text(statement), params)
        return caught.value

    assert isolate.is_content_error(error_of("INSERT INTO item VALUES (13, 'x')", {}))
    assert isolate.is_content_error(error_of("INSERT INTO item VALUES (:x, 'x')", {"x": 2**70}))
    surrogate = error_of("INSERT INTO item VALUES (1, :n)", {"n": "a\ud800"})
    assert isolate.is_content_error(surrogate)
    if engine.dialect.name == "postgresql":
        assert isolate.is_content_error(error_of("INSERT INTO item VALUES (1, :n)", {"n": "\x00"}))
    assert not isolate.is_content_error(error_of("INSERT INTO nowhere VALUES (1)", {}))
    assert _stored(engine) == []


def test_trouble_of_the_database_refuses_nothing_and_waits(engine: Engine) -> None:
    """A missing table fails every event alike: nothing is refused, the part is tried
    again until the table is there."""
    tries: list[int] = []

    async def run(start: int, end: int) -> int:
        tries.append(end - start)
        with session_scope(engine) as db:
            if len(tries) < 3:
                db.execute(text("INSERT INTO missing_table VALUES (1)"))
            db.execute(text("INSERT INTO item (x) VALUES (1)"))
        return end - start

    async def up() -> bool:
        return True

    async def wait() -> None:
        raise AssertionError("the database is up")

    applied = asyncio.run(isolate.apply_isolating(50, run, up, wait, retry_seconds=0.01))
    assert tries == [50, 50, 50]
    assert applied.refused == [] and applied.parts == [(0, 50)]
