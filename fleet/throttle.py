"""A throttle counted in the database, so that every API replica shares one count.

Each key (``booking-device:<phone>``, ``checkin-token:<session>``; never an address) has
one row per fixed window of ``seconds``; a hit adds one to the window's row in one
statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), atomic on PostgreSQL
and SQLite alike. A key gets at most ``limit`` hits per window (up to twice that across
a window's edge, the price of one row per window). ``prune`` drops windows that ended.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from fleet.db import DbSession
from fleet.models import ThrottleHit

MAX_KEY = 200


def hit(db: DbSession, key: str, limit: int, seconds: int, now: float) -> float | None:
    """Count a hit of ``key`` at ``now`` (seconds since the epoch): None when allowed,
    else the seconds to wait until the window ends."""
    window = int(now // seconds) * seconds
    table: Any = ThrottleHit.__table__  # type: ignore[attr-defined]
    insert_fn: Any = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert_fn(table)
        .values(key=key[:MAX_KEY], window=window, hits=1)
        .on_conflict_do_update(
            index_elements=[table.c.key, table.c.window], set_={"hits": table.c.hits + 1}
        )
        .returning(table.c.hits)
    )
    hits = int(db.execute(stmt).scalar_one())
    if hits > limit:
        return max(window + seconds - now, 0.001)
    return None


def prune(db: DbSession, now: float, keep_seconds: int = 3600) -> int:
    """Drop the windows that began more than ``keep_seconds`` before ``now``."""
    result: Any = db.execute(
        delete(ThrottleHit).where(col(ThrottleHit.window) < int(now) - keep_seconds)
    )
    return int(result.rowcount or 0)
