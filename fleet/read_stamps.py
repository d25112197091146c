"""The read model's change counter, and the per-process cache it keys.

``read_stamp`` holds one row whose ``n`` the database itself raises, in the same
transaction, at every insert, update or delete of the tables the cached answers are
made of (``WATCHED``): whoever writes (the API, a stream worker, a CLI command), every
process sees a new number once the change is committed, and a cached answer stored under
an older number is not used again. PostgreSQL raises it at commit (a deferred trigger:
the counter row is the last lock a writer takes, so writers cannot deadlock on it);
SQLite has one writer at a time anyway.

A reader takes the number before it reads the data: an answer can only be newer than its
number says, never older.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection

from fleet.db import DbSession

# what the schedule is made of: regions, sites (names), vehicles and their status reports,
# plans (the version in force) and sessions
WATCHED = ("region", "site", "vehicle", "vehiclestatusreport", "plan", "session")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE read_stamp SET n = n + 1 WHERE id = 1"
PG_FUNCTION = "read_stamp_bump"

V = TypeVar("V")


def _trigger(table: str, operation: str | None = None) -> str:
    return f"read_stamp_{table}" + (f"_{operation.lower()}" if operation else "")


def install_statements(dialect: str) -> list[str]:
    """The counter's first row and the triggers that raise it, for ``dialect``."""
    statements = ["INSERT INTO read_stamp (id, n) VALUES (1, 0)"]
    if dialect == "postgresql":
        statements.append(
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        statements += [
            f'CREATE CONSTRAINT TRIGGER {_trigger(t)} AFTER INSERT OR UPDATE OR DELETE ON "{t}" '
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
            for t in WATCHED
        ]
        return statements
    statements += [
        f'CREATE TRIGGER {_trigger(t, op)} AFTER {op} ON "{t}" BEGIN {BUMP}; END'
        for t in WATCHED
        for op in OPERATIONS
    ]
    return statements


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f'DROP TRIGGER IF EXISTS {_trigger(t)} ON "{t}"' for t in WATCHED] + [
            f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()"
        ]
    return [f"DROP TRIGGER IF EXISTS {_trigger(t, op)}" for t in WATCHED for op in OPERATIONS]


def install(conn: Connection) -> None:
    """Create the first row and the triggers (the migration and ``create_all`` call it)."""
    for statement in install_statements(conn.dialect.name):
        conn.execute(text(statement))


def current(db: DbSession | Connection) -> int | None:
    """The counter now; None where it is not installed (then nothing may be cached)."""
    value = db.execute(text("SELECT n FROM read_stamp WHERE id = 1")).scalar()
    return int(value) if value is not None else None


class StampedCache(Generic[V]):
    """Answers of this process by key, each kept with the counter it was read under; an
    answer is given back only under the same counter. The oldest keys go past ``size``."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: int | None) -> V | None:
        if stamp is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, stamp: int | None, value: V) -> None:
        if stamp is None:
            return
        with self._lock:
            self._entries[key] = (stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["WATCHED", "StampedCache", "current", "drop_statements", "install"]
