"""Engines and transactions. Nothing is created at import: callers pass the URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

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
    "read",
    "read_connection",
    "read_db",
    "session_scope",
]

T = TypeVar("T")
# PostgreSQL connections older than this are replaced at checkout (a server or proxy that
# drops idle connections); a connection dropped sooner is handled by ``read``'s retry
POOL_RECYCLE_SECONDS = 1800


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
    # no pre-ping (a round trip per checkout on every request): a connection the server
    # dropped fails its first statement, SQLAlchemy then invalidates the whole pool, and
    # ``read`` tries once more on a fresh connection
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    return create_engine(url, **kwargs)


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A pooled connection for reads only, in autocommit: no BEGIN and no ROLLBACK, two
    round trips fewer on PostgreSQL (whose READ COMMITTED gives each statement its own
    snapshot anyway)."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def read(engine: Engine, reading: Callable[[Connection], T]) -> T:
    """``reading(conn)`` on a read connection; once more on a fresh one when the database
    had dropped the connection (a restart, an idle timeout): a read never fails for that."""
    try:
        with read_connection(engine) as conn:
            return reading(conn)
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with read_connection(engine) as conn:
        return reading(conn)


def read_db(engine: Engine, reading: Callable[[DbSession], T]) -> T:
    """``read`` with an ORM session over the read connection (for the read model's
    functions that take one)."""

    def in_session(conn: Connection) -> T:
        with DbSession(bind=conn) as db:
            return reading(db)

    return read(engine, in_session)


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
    from fleet import read_stamps

    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:  # the change counter's triggers, as the migration has them
        if read_stamps.current(conn) is None:
            read_stamps.install(conn)


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
