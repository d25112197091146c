"""Applying a batch so that no single event can stop the stream.

A batch is applied in one transaction. When that fails while the database answers, the
batch is split in halves, each applied on its own, down to the event at fault, which is
refused (and dead-lettered by the caller) once it has failed ``attempts`` times alone:
one poison event among n costs about one extra batch of work (n + n/2 + n/4 ... rows)
and 2*log2(n) small transactions. When the database does not answer, nothing is split
or refused: the part is tried again once the database is back (ingest pauses).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fleet.events import EventRejected

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass
class Applied(Generic[R]):
    """What applying a batch did: each applied part's result (with its first index) and
    the events the database refused (by index)."""

    parts: list[tuple[int, R]] = field(default_factory=list)
    refused: list[tuple[int, EventRejected]] = field(default_factory=list)
    splits: int = 0


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
    attempts: int = 3,
    retry_seconds: float = 0.2,
    stopping: Callable[[], bool] = lambda: False,
) -> Applied[R]:
    """Apply items ``0..size`` with ``run(start, end)`` (one transaction each), in order."""
    applied: Applied[R] = Applied()
    pending: deque[tuple[int, int]] = deque([(0, size)] if size else [])
    failures: dict[int, int] = {}
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
            continue
        if not await database_up():
            await wait_for_database()  # the database is down for everyone: pause, retry
            continue
        if end - start > 1:
            middle = (start + end) // 2
            pending.popleft()
            pending.appendleft((middle, end))
            pending.appendleft((start, middle))
            applied.splits += 1
            log.log(
                logging.WARNING if end - start == size else logging.DEBUG,
                "a batch of %d events failed (%s); applying it in halves",
                end - start,
                describe(error),
            )
            continue
        failures[start] = failures.get(start, 0) + 1
        if failures[start] < attempts:
            await asyncio.sleep(retry_seconds * failures[start])
            continue
        pending.popleft()
        applied.refused.append(
            (start, EventRejected("payload", f"the database refused it ({describe(error)})"))
        )
    return applied
