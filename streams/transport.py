"""Faust's Kafka transport with a cheaper delivery of each fetched message.

faust-streaming 0.15.3 hands every fetched message to the streams through
``Consumer.wait_first(callback(message), suspend_flow.wait())``: four tasks and an
``asyncio.wait`` per message, so that a delivery blocked on a full stream buffer can be
abandoned when a rebalance suspends the flow. Almost every delivery completes without
ever suspending (the buffer has room), and for those the tasks are pure overhead: about
a third of the worker's CPU per event at a few thousand events per second.

``EagerConsumer.wait_first`` runs the first coroutine eagerly, up to its first
suspension. If it finishes there, that is the result, exactly as ``wait_first`` would
have returned it (the other waitables are closed unstarted). If it suspends, the rest of
it runs under the original ``wait_first``, so a blocked delivery can still be abandoned
by a rebalance as before. Nothing else of the transport changes. The parts of Faust this
reaches are in ``streams.faust_private``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Generator
from typing import Any

from streams.faust_private import AiokafkaTransport, FlowConsumer, Service, WaitResults


class _Resumed:
    """Awaitable continuing a coroutine that was already stepped once by hand.

    ``pending`` is what the coroutine's first step yielded (a future it waits for, or
    ``None`` for a bare yield); it is handed on to the task running this object, and
    each resumption (or exception, e.g. cancellation) is passed into the coroutine.
    """

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(value)
                except StopIteration as stop:
                    return stop.value


class EagerWaitFirst(Service):
    """``Service.wait_first`` that runs its first coroutine eagerly (see the module)."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if not inspect.iscoroutine(first):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            pending = first.send(None)
        except StopIteration as stop:
            for other in coros[1:]:
                if inspect.iscoroutine(other):
                    other.close()
            return WaitResults([first], [stop.value], False)
        results = await super().wait_first(_Resumed(first, pending), *coros[1:], timeout=timeout)
        await self.after_blocked_delivery()
        return results

    async def after_blocked_delivery(self) -> None:
        """Called after a delivery that had to wait; nothing to do here."""


class EagerConsumer(EagerWaitFirst, FlowConsumer):
    """The aiokafka consumer of Faust, delivering messages eagerly.

    Once a delivery had to wait for room in a full stream buffer, the next one would
    too: the fetcher and the agent would take turns one event at a time, each turn a
    blocked delivery. Instead, after a blocked delivery the consumer waits until the
    buffers under pressure have drained (Faust's own pressure-drop mark, 40%), then
    delivers eagerly again. A rebalance (suspended flow) or a stop ends the wait.
    """

    _room: asyncio.Event | None = None

    def _room_event(self) -> asyncio.Event:
        if self._room is None:
            self._room = asyncio.Event()
            self._room.set()
        return self._room

    def on_buffers_full(self) -> None:
        self._room_event().clear()

    def on_buffers_drained(self) -> None:
        self._room_event().set()

    def on_flow_reset(self) -> None:
        self._room_event().set()

    def resume_flow(self) -> None:
        super().resume_flow()
        self._room_event().set()

    async def after_blocked_delivery(self) -> None:
        room = self._room_event()
        if not room.is_set() and not self.suspend_flow.is_set():
            await self.wait_first(room, self.suspend_flow)


class EagerTransport(AiokafkaTransport):
    """Faust's aiokafka transport with ``EagerConsumer``."""

    Consumer = EagerConsumer
