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


# --- pipelined: a batch's rest runs beside the next batch, acknowledgements stay in order ---


class AckStream(BurstStream):
    """A burst stream that records acknowledgements (``noack`` gives itself)."""

    def __init__(self, bursts: list[list[int]]) -> None:
        super().__init__(bursts)
        self.acked: list[int] = []

    def noack(self) -> AckStream:
        return self

    async def ack(self, event: int) -> None:
        self.acked.append(event)


async def test_the_rest_of_a_batch_runs_beside_the_next_and_acks_wait_for_it() -> None:
    from streams.batching import Rest, pipelined

    stream = AckStream([[1, 2], [3], [4, 5]])
    release = {1: asyncio.Event(), 3: asyncio.Event(), 4: asyncio.Event()}
    log: list[str] = []

    async def rest_of(first: int) -> None:
        await release[first].wait()
        log.append(f"rest {first}")

    async def handle(batch: list[int]) -> Rest:
        log.append(f"handle {batch[0]}")
        if batch[0] == 3:
            # batch 1's rest is still waiting, yet batch 3 is handled and nothing is acked
            assert "rest 1" not in log
            assert stream.acked == []
            release[3].set()  # batch 3's rest may end before batch 1's: acks stay in order
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert stream.acked == []
            release[1].set()
        if batch[0] == 4:
            release[4].set()
        return rest_of(batch[0])

    await pipelined(stream, 1000, handle)
    assert stream.acked == [1, 2, 3, 4, 5]
    assert log.index("handle 3") < log.index("rest 1")


async def test_a_handler_without_rest_is_acked_after_its_batch() -> None:
    from streams.batching import Rest, pipelined

    stream = AckStream([[1], [2, 3]])
    seen: list[tuple[int, list[int]]] = []

    async def handle(batch: list[int]) -> Rest:
        seen.append((batch[0], list(stream.acked)))
        return None

    await pipelined(stream, 1000, handle)
    assert stream.acked == [1, 2, 3]
    assert seen[0] == (1, [])  # nothing is acked before its batch is handled


async def test_at_most_one_rest_is_outstanding_when_a_batch_begins() -> None:
    from streams.batching import Rest, pipelined

    stream = AckStream([[1], [2], [3], [4]])
    done: list[int] = []
    outstanding_at_start: list[int] = []

    async def rest_of(first: int) -> None:
        await asyncio.sleep(0.01 * (5 - first))  # earlier rests are slower
        done.append(first)

    async def handle(batch: list[int]) -> Rest:
        outstanding_at_start.append(batch[0] - 1 - len(done))
        return rest_of(batch[0])

    await pipelined(stream, 1000, handle)
    assert stream.acked == [1, 2, 3, 4]
    assert max(outstanding_at_start) <= 1
