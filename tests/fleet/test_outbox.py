"""The outbox's SQL on real SQLite and PostgreSQL: accept, order, backlog, lease, prune."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fleet import outbox
from fleet.db import create_all, make_engine
from fleet.models import api_idempotency

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _claim(engine: Engine, user_id: int, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            api_idempotency.insert().values(
                user_id=user_id, key=key, request="POST /x", body_sha256="0" * 64, created_at=T0
            )
        )


def test_accept_stores_the_event_and_its_answer_once(engine: Engine) -> None:
    """One transaction holds the event and the key's answer; the same event id again adds
    no second row, and its answer is still stored."""
    _claim(engine, 7, "k1")
    answer = outbox.Answer(7, "k1", 202, {"body": '{"event_id":"e1"}', "media_type": "x"})
    message = outbox.Message("t.a", "S1", b'{"event_id":"e1"}', "e1")
    assert outbox.accept(engine, [message], T0, answer) is True
    _claim(engine, 7, "k2")
    again = outbox.Answer(7, "k2", 202, {"body": "again", "media_type": "x"})
    assert outbox.accept(engine, [message], T0, again) is False
    with engine.connect() as conn:
        rows = outbox.pending(conn, 10)
        answers = dict(
            conn.execute(select(api_idempotency.c.key, api_idempotency.c.status_code)).all()
        )
    assert [(r.topic, r.key, r.value) for r in rows] == [("t.a", "S1", b'{"event_id":"e1"}')]
    assert answers == {"k1": 202, "k2": 202}


def test_pending_is_in_insertion_order_and_mark_sent_empties_the_backlog(engine: Engine) -> None:
    for i in range(5):
        outbox.accept(engine, [outbox.Message("t", f"K{i % 2}", b"%d" % i, f"e{i}")], T0)
    backlog = outbox.backlog(engine)
    assert backlog.depth == 5 and backlog.oldest == T0
    assert backlog.age_seconds(T0 + timedelta(seconds=90)) == 90.0
    with engine.connect() as conn:
        rows = outbox.pending(conn, 3)
    assert [r.value for r in rows] == [b"0", b"1", b"2"]
    with engine.begin() as conn:
        outbox.mark_sent(conn, [r.id for r in rows], T0)
    with engine.connect() as conn:
        assert [r.value for r in outbox.pending(conn, 10)] == [b"3", b"4"]
    assert outbox.backlog(engine).depth == 2


def test_prune_deletes_only_rows_sent_before_the_cutoff(engine: Engine) -> None:
    for i in range(4):
        outbox.accept(engine, [outbox.Message("t", "K", b"x", f"e{i}")], T0)
    with engine.connect() as conn:
        ids = [r.id for r in outbox.pending(conn, 10)]
    with engine.begin() as conn:
        outbox.mark_sent(conn, ids[:2], T0)  # old
        outbox.mark_sent(conn, ids[2:3], T0 + timedelta(days=2))  # recent
    assert outbox.prune(engine, T0 + timedelta(days=1)) == 2
    assert outbox.prune(engine, T0 + timedelta(days=1)) == 0
    with engine.connect() as conn:
        assert [r.id for r in outbox.pending(conn, 10)] == ids[3:]  # unsent: never pruned
    assert outbox.backlog(engine).depth == 1


def test_one_relay_lease_at_a_time(engine: Engine) -> None:
    """A second connection cannot take the lease until the first lets go (PostgreSQL: an
    advisory lock; a SQLite file: a lock on the file beside it)."""
    assert outbox.turns_are_taken(engine)
    a = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    b = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        assert outbox.take_relay_lease(a)
        assert not outbox.take_relay_lease(b)
        outbox.lease_alive(a)
        outbox.release_relay_lease(a)
        assert outbox.take_relay_lease(b)
        assert not outbox.take_relay_lease(a)
        if engine.dialect.name == "sqlite":
            with pytest.raises(RuntimeError, match="no longer held"):
                outbox.lease_alive(a)
            outbox.release_relay_lease(b)
            return
        b.invalidate()  # the holder's connection dies (its process is gone): the lease goes
        deadline = time.monotonic() + 10  # once the server has noticed the closed connection
        while not outbox.take_relay_lease(a):
            assert time.monotonic() < deadline, "the lease outlived its connection"
            time.sleep(0.05)
    finally:
        for conn in (a, b):
            if engine.dialect.name == "sqlite":
                outbox.release_relay_lease(conn)
            conn.invalidate()
            conn.close()


_HOLD = """
import sys, time
from fleet import outbox
from fleet.db import make_engine
conn = make_engine(sys.argv[1]).connect().execution_options(isolation_level="AUTOCOMMIT")
assert outbox.take_relay_lease(conn)
print("held", flush=True)
time.sleep(60)
"""


def test_a_sqlite_lease_goes_with_its_process(sqlite_url: str) -> None:
    """The process holding the SQLite lease is killed: another process takes it; one in
    memory needs none."""
    import subprocess
    import sys
    from pathlib import Path

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, sqlite_url],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        engine = make_engine(sqlite_url)
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        assert not outbox.take_relay_lease(conn)
        holder.kill()
        holder.wait(10)
        assert outbox.take_relay_lease(conn)
        outbox.release_relay_lease(conn)
        conn.close()
        engine.dispose()
    finally:
        holder.kill()
        holder.wait(10)
    assert not outbox.turns_are_taken(make_engine("sqlite://"))
