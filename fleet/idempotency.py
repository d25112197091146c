"""``Idempotency-Key`` for writes: the same key and body give the same answer and one effect.

A key is claimed (a row with no answer yet) before the effect, answered after it,
and released when the effect fails, so that a retry can try again. Keys belong to
the user who sent them. The API's writes use it (``api.idempotent_writes``); the table
is ``fleet.models.api_idempotency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fleet.db import session_scope
from fleet.models import api_idempotency as idempotency


@dataclass(frozen=True)
class Claimed:
    """The key is new: do the effect, then ``answer`` (or ``release`` on failure)."""


@dataclass(frozen=True)
class Replay:
    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True)
class KeyConflict:
    reason: str


Outcome = Claimed | Replay | KeyConflict


def claim(
    engine: Engine, user_id: int, key: str, request: str, body_sha256: str, now: datetime
) -> Outcome:
    row_filter = (idempotency.c.user_id == user_id) & (idempotency.c.key == key)
    try:
        with session_scope(engine) as db:
            db.execute(
                idempotency.insert().values(
                    user_id=user_id,
                    key=key,
                    request=request,
                    body_sha256=body_sha256,
                    created_at=now,
                )
            )
        return Claimed()
    except IntegrityError:
        pass
    with session_scope(engine) as db:
        row = db.execute(select(idempotency).where(row_filter)).mappings().first()
    if row is None:  # released in between: let the caller retry
        return KeyConflict("this Idempotency-Key is being processed; retry")
    if row["request"] != request or row["body_sha256"] != body_sha256:
        return KeyConflict("this Idempotency-Key was used with a different request body")
    if row["status_code"] is None:
        return KeyConflict("a request with this Idempotency-Key is still in progress")
    return Replay(int(row["status_code"]), dict(row["response"] or {}))


def answer(
    engine: Engine, user_id: int, key: str, status_code: int, response: dict[str, Any]
) -> None:
    with session_scope(engine) as db:
        db.execute(
            update(idempotency)
            .where((idempotency.c.user_id == user_id) & (idempotency.c.key == key))
            .values(status_code=status_code, response=response)
        )


def release(engine: Engine, user_id: int, key: str) -> None:
    with session_scope(engine) as db:
        db.execute(
            delete(idempotency).where(
                (idempotency.c.user_id == user_id) & (idempotency.c.key == key)
            )
        )
