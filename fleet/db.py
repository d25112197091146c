"""Engines and transactions. Nothing is created at import: callers pass the URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, create_engine

__all__ = ["DbSession", "begin_write", "create_all", "make_engine", "session_scope"]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; on SQLite, foreign keys are enforced, files use WAL, writers wait."""
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        database = engine.url.database
        in_file = bool(database) and database != ":memory:" and "mode=memory" not in url

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if in_file:  # readers (API) and a writer (worker) side by side
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[DbSession]:
    """One transaction: commits when the block ends, rolls back when it raises."""
    session = DbSession(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_write(db: DbSession) -> None:
    """Start ``db``'s transaction as a writer now (SQLite: ``BEGIN IMMEDIATE``, which waits
    for the write lock), before any read or savepoint: a transaction begun as a reader
    (a savepoint begins one on SQLite) fails at once with "database is locked" when it
    then writes after another writer has committed. Nothing to do on PostgreSQL."""
    if db.get_bind().dialect.name == "sqlite":
        db.connection().exec_driver_sql("BEGIN IMMEDIATE")


def create_all(engine: Engine) -> None:
    """Create every table directly; for tests only (production runs Alembic migrations)."""
    import fleet.models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(engine)
