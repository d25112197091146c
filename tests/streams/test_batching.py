"""How the ingest agents cut a stream into batches (``streams.batching.batches``), no broker.

The stream here is an in-memory stand-in with the three things ``batches`` uses: async
iteration, ``current_event`` and the buffer's ``empty()``. Events arrive in bursts; the
buffer is empty after the last event of a burst.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from streams.batching import batches


class _Buffer:
    def __init__(self) -> None:
        self.waiting = 0

    def empty(self) -> bool:
        return self.waiting == 0


class _Channel:
    def __init__(self) -> None:
        self.queue = _Buffer()


class BurstStream:
    def __init__(self, bursts: list[list[int]]) -> None:
        self.bursts = bursts
        self.channel = _Channel()
        self.current_event: int | None = None

    async def __aiter__(self) -> AsyncIterator[int]:
        for burst in self.bursts:
            await asyncio.sleep(0)  # time passes between bursts
            for index, event in enumerate(burst):
                self.channel.queue.waiting = len(burst) - index - 1
                self.current_event = event
                yield event


async def _cut(bursts: list[list[int]], size: int) -> list[list[int]]:
    return [list(batch) async for batch in batches(BurstStream(bursts), size)]


async def test_a_lone_event_is_a_batch_at_once() -> None:
    assert await _cut([[1], [2], [3]], 1000) == [[1], [2], [3]]


async def test_what_waits_together_is_one_batch() -> None:
    assert await _cut([[1, 2, 3], [4], [5, 6]], 1000) == [[1, 2, 3], [4], [5, 6]]


async def test_a_backlog_goes_in_batches_of_at_most_size_in_order() -> None:
    backlog = list(range(2500))
    cut = await _cut([backlog], 1000)
    assert [len(batch) for batch in cut] == [1000, 1000, 500]
    assert [event for batch in cut for event in batch] == backlog
