"""Applying a batch so that no single event can stop the stream.

A batch is applied in one transaction, its work inside a savepoint. When the work fails
for an event's content (``is_content_error``), the savepoint is rolled back and the batch
is split in halves, each in a savepoint of its own, down to the event at fault, which is
refused (and dead-lettered by the caller), all in the same transaction with one commit:
one poison event among n costs about one extra batch of work (n + n/2 + n/4 ... rows).
A content error only at commit (a deferred constraint) rolls the transaction back, and
the same splitting happens one transaction per part (``apply_isolating``). Any other
error refuses nothing: when the database does not answer, ingest pauses until it does;
when it answers but fails (a lock, a deadlock, a missing table or permission: trouble
of the database, not of the events), the same part is tried again with a growing pause
(logged at most every 10 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fleet.db import DbSession, is_content_error
from fleet.events import EventRejected
from streams.logfilter import RateLimitedLog

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass
class Applied(Generic[R]):
    """What applying a batch did: each applied part's result (with its first index) and
    the events the database refused (by index)."""

    parts: list[tuple[int, R]] = field(default_factory=list)
    refused: list[tuple[int, EventRejected]] = field(default_factory=list)
    splits: int = 0


def apply_in_savepoints(
    db: DbSession, size: int, run: Callable[[DbSession, int, int], R]
) -> Applied[R]:
    """``run(db, start, end)`` over items ``0..size`` in savepoints of ``db``'s transaction,
    splitting a part that fails for its content; other errors are raised."""
    applied: Applied[R] = Applied()
    pending: deque[tuple[int, int]] = deque([(0, size)] if size else [])
    while pending:
        start, end = pending.popleft()
        try:
            with db.begin_nested():
                result = run(db, start, end)
        except Exception as exc:
            if not is_content_error(exc):
                raise
            if end - start > 1:
                middle = (start + end) // 2
                pending.extendleft([(middle, end), (start, middle)])
                applied.splits += 1
                if end - start == size:
                    log.warning(
                        "a batch of %d events failed (%s); applying it in halves",
                        size,
                        describe(exc),
                    )
                continue
            applied.refused.append(
                (start, EventRejected("payload", f"the database refused it ({describe(exc)})"))
            )
            continue
        applied.parts.append((start, result))
    return applied


def describe(error: BaseException) -> str:
    """The first line of an exception, for a dead letter's reason."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(original).__name__}: {first}"[:300]


async def apply_isolating(
    size: int,
    run: Callable[[int, int], Awaitable[R]],
    database_up: Callable[[], Awaitable[bool]],
    wait_for_database: Callable[[], Awaitable[None]],
    *,
    retry_seconds: float = 1.0,
    stopping: Callable[[], bool] = lambda: False,
) -> Applied[R]:
    """Apply items ``0..size`` with ``run(start, end)`` (one transaction each), in order."""
    applied: Applied[R] = Applied()
    pending: deque[tuple[int, int]] = deque([(0, size)] if size else [])
    attempt = 0
    trouble = RateLimitedLog(log, 10.0)
    while pending:
        start, end = pending[0]
        try:
            result = await run(start, end)
        except Exception as exc:  # noqa: BLE001 - classified below
            if stopping():
                raise
            error = exc
        else:
            pending.popleft()
            applied.parts.append((start, result))
            attempt = 0
            continue
        if not await database_up():
            await wait_for_database()  # the database is down for everyone: pause, retry
            continue
        if not is_content_error(error):
            # a lock, a deadlock, a missing table: the database's trouble, not the events'
            attempt += 1
            trouble.note(f"applying {end - start} events failed ({describe(error)}); retrying")
            await asyncio.sleep(min(retry_seconds * attempt, 10.0))
            continue
        pending.popleft()
        if end - start > 1:
            middle = (start + end) // 2
            pending.extendleft([(middle, end), (start, middle)])
            applied.splits += 1
            continue
        applied.refused.append(
            (start, EventRejected("payload", f"the database refused it ({describe(error)})"))
        )
    return applied
