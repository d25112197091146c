"""The ingest agents' streams cut into batches, handled one at a time while the next fills."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import faust

from streams.faust_private import stream_buffer_empty

log = logging.getLogger(__name__)


async def batches(stream: Any, size: int) -> AsyncIterator[list[faust.EventT]]:
    """The stream's events in arrival order, in batches of what is already waiting.

    A batch ends when ``size`` events are in it or when the stream's buffer is empty, so
    a lone event is handled at once and a backlog goes in large batches (group commit):
    while one batch is being persisted, the next one gathers in the buffer.
    """
    batch: list[faust.EventT] = []
    async for _ in stream:
        batch.append(stream.current_event)
        if len(batch) >= size or stream_buffer_empty(stream):
            yield batch
            batch = []


Rest = Awaitable[None] | None
"""What a handler leaves to finish before its batch is acknowledged (its dead letters'
delivery, say), which need not hold up the next batch; None when nothing is left."""

Settling = asyncio.Future[None] | None


async def pipelined(
    stream: Any,
    size: int,
    handle: Callable[[Sequence[faust.EventT]], Awaitable[Rest]],
    drain_seconds: float = 15.0,
) -> None:
    """Batches handled one at a time and in order, while the next batch fills.

    Events are taken without acknowledgement (``noack``) and acknowledged only once their
    batch has taken effect, so a crash at any point redelivers them (at-least-once).
    A handler's own work (its transaction) is done one batch at a time: batch k+1 starts
    after batch k's. What a handler leaves (``Rest``: sending batch k's dead letters, which
    are already kept in its transaction) runs beside batch k+1, and batch k is
    acknowledged only after it, batches always in order; at most one batch's rest is
    outstanding when the next begins. When the worker stops, the batch under way and its
    rest are finished and acknowledged (for up to ``drain_seconds``) so that the final
    commit covers them.
    """
    manual = stream.noack()

    async def settle(batch: Sequence[faust.EventT], rest: Rest, before: Settling) -> None:
        if before is not None:
            await before  # batches are acknowledged in order
        if rest is not None:
            await rest
        for event in batch:
            await manual.ack(event)

    async def run(batch: Sequence[faust.EventT], before: Settling) -> asyncio.Future[None]:
        rest = await handle(batch)
        return asyncio.ensure_future(settle(batch, rest, before))

    in_flight: asyncio.Future[asyncio.Future[None]] | None = None
    settling: Settling = None
    try:
        async for batch in batches(manual, size):
            if in_flight is not None:
                latest = await in_flight
                if settling is not None:
                    await settling  # bounded: batch k-1 settled before batch k+1 begins
                settling = latest
            in_flight = asyncio.ensure_future(run(batch, settling))
    finally:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        if in_flight is not None and not in_flight.done():
            await finish(in_flight, drain_seconds)
        if (
            in_flight is not None
            and in_flight.done()
            and not in_flight.cancelled()
            and in_flight.exception() is None
        ):
            settling = in_flight.result()
        if settling is not None and not settling.done():
            await finish(settling, max(0.0, deadline - loop.time()))


async def finish(task: asyncio.Future[Any], timeout: float) -> None:
    """Wait up to ``timeout`` for ``task``, through requests to stop (then re-raised);
    cancel it if it is still running then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    stop_requested = False
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("a batch did not finish within %.0f s of stopping; cancelled", timeout)
            task.cancel()
            break
        try:
            await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:
            stop_requested = True
    if stop_requested:
        raise asyncio.CancelledError
