"""Read connections (fleet.db.read): autocommit reads, and a connection the database
dropped costs no failed request (no pre-ping any more: ``read`` tries once more)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fleet.db import Connection, make_engine, read, read_connection
from tests.fixtures.db import _postgres_admin_url


def _drop_connections(database: str) -> int:
    """What a server restart does to the pool: every backend of ``database`` is killed."""
    admin = create_engine(make_url(_postgres_admin_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar_one()
    admin.dispose()
    return int(killed)


def test_a_read_after_the_server_dropped_the_pooled_connections_answers(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url, pool_size=2)
    try:
        assert read(engine, lambda c: c.execute(text("SELECT 1")).scalar_one()) == 1
        assert _drop_connections(make_url(postgres_url).database or "") >= 1
        # the pooled connection is dead: without the retry this raises OperationalError
        assert read(engine, lambda c: c.execute(text("SELECT 2")).scalar_one()) == 2
    finally:
        engine.dispose()


def test_a_read_does_not_retry_what_is_not_a_lost_connection(database_url: str) -> None:
    engine = make_engine(database_url)
    calls: list[int] = []

    def bad(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(Exception, match="no_such_table"):
            read(engine, bad)
        assert calls == [1]
    finally:
        engine.dispose()


def test_read_connections_see_what_another_connection_committed(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE counter (n INTEGER)"))
            conn.execute(text("INSERT INTO counter VALUES (1)"))
        with read_connection(engine) as reader:
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 1
            with engine.begin() as writer:
                writer.execute(text("UPDATE counter SET n = 2"))
            # autocommit: no snapshot held since the first read
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 2
    finally:
        engine.dispose()
