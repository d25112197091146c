"""Engines and transactions. Nothing is created at import: callers pass the URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, create_engine

__all__ = [
    "Connection",
    "DbSession",
    "Engine",
    "begin_write",
    "create_all",
    "is_content_error",
    "make_engine",
    "ping",
    "session_scope",
]


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


def ping(engine: Engine) -> None:
    """Ask the database to answer (``SELECT 1``); raises when it does not."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


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


# SQLSTATE classes of errors caused by what an event holds, not by the database's state:
# data exceptions (22), integrity constraints (23), program limits such as an index row
# too large (54), raised by a trigger or function (P0)
CONTENT_SQLSTATE_CLASSES = ("22", "23", "54", "P0")
# Python errors a value raises on its way into the driver (an unencodable string, a
# datetime out of range); SQLAlchemy hands them on as ``StatementError.orig``
CONTENT_PYTHON_ERRORS = (UnicodeError, ValueError, OverflowError, TypeError)


def is_content_error(error: BaseException) -> bool:
    """Is ``error`` about what the event holds (True) or about the database (False:
    a lock, a lost connection, a missing table or permission, a deadlock)?"""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] in CONTENT_SQLSTATE_CLASSES
    if isinstance(error, exc.IntegrityError | exc.DataError):
        return True
    if isinstance(error, exc.DBAPIError):
        return False
    return isinstance(original if original is not None else error, CONTENT_PYTHON_ERRORS)
