"""The eager ``wait_first`` of the worker's Kafka consumer (no broker needed).

``EagerWaitFirst`` is mixed into a bare ``mode.Service`` here, as it is into Faust's
aiokafka consumer in the worker; these tests hold it to ``Service.wait_first``'s
contract in each case: finished at once, suspended then finished, overtaken by the
other waitable (the first is cancelled), failing.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings

import pytest
from faust.types import TP
from mode import Service

from streams.transport import EagerConsumer, EagerTransport, EagerWaitFirst
from streams.worker_app import WorkerApp


class Waiter(EagerWaitFirst, Service):
    pass


async def test_a_delivery_that_never_suspends_completes_inside_the_call() -> None:
    service = Waiter()
    suspend = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> int:
        steps.append("delivered")
        return 7

    other = suspend.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        results = await service.wait_first(deliver(), other)
    assert steps == ["delivered"]
    assert results.results == [7] and not results.stopped
    assert inspect.getcoroutinestate(other) == inspect.CORO_CLOSED


async def test_a_suspended_delivery_finishes_under_the_original_wait_first() -> None:
    service = Waiter()
    suspend = asyncio.Event()
    room = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> str:
        steps.append("blocked")
        await room.wait()
        await asyncio.sleep(0)
        steps.append("delivered")
        return "ok"

    waiting = asyncio.ensure_future(service.wait_first(deliver(), suspend.wait()))
    await asyncio.sleep(0.01)
    assert steps == ["blocked"] and not waiting.done()
    room.set()
    results = await asyncio.wait_for(waiting, 5)
    assert steps == ["blocked", "delivered"]
    assert results.results == ["ok"]


async def test_a_blocked_delivery_is_abandoned_when_the_flow_is_suspended() -> None:
    service = Waiter()
    suspend = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> None:
        try:
            await asyncio.Event().wait()  # a full buffer that never drains
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise

    waiting = asyncio.ensure_future(service.wait_first(deliver(), suspend))
    await asyncio.sleep(0.01)
    suspend.set()
    results = await asyncio.wait_for(waiting, 5)
    await asyncio.sleep(0.01)
    assert results.done == [suspend]
    assert steps == ["cancelled"]


async def test_an_error_in_a_delivery_is_raised_whether_or_not_it_suspended() -> None:
    service = Waiter()

    async def at_once() -> None:
        raise ValueError("bad message")

    async def later() -> None:
        await asyncio.sleep(0.001)
        raise KeyError("later")

    with pytest.raises(ValueError, match="bad message"):
        await service.wait_first(at_once(), asyncio.Event())
    with pytest.raises(KeyError, match="later"):
        await service.wait_first(later(), asyncio.Event())


async def test_non_coroutine_waitables_take_the_original_path() -> None:
    service = Waiter()
    first, second = asyncio.Event(), asyncio.Event()
    second.set()
    results = await service.wait_first(first, second)
    assert results.done == [second]


def test_the_transport_builds_the_eager_consumer() -> None:
    assert EagerTransport.Consumer is EagerConsumer
    assert issubclass(EagerConsumer, EagerWaitFirst)


def _consumer() -> EagerConsumer:
    app = WorkerApp(
        "transport-test",
        broker="kafka://localhost:1",  # never connected: the consumer is not started
        store="memory://",
        autodiscover=False,
        web_enabled=False,
    )
    consumer = app.consumer
    assert isinstance(consumer, EagerConsumer)
    return consumer


async def test_after_a_blocked_delivery_the_consumer_waits_until_the_buffer_drains() -> None:
    consumer = _consumer()
    tp = TP("rvrota.site-headcounts", 0)
    consumer.on_buffer_full(tp)  # the stream buffer passed its high-pressure mark
    room = asyncio.Event()

    async def deliver() -> str:
        await room.wait()  # full: waits for the agent to take one event
        return "put"

    waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    room.set()
    await asyncio.sleep(0.05)
    assert not waiting.done(), "delivered, but the buffer is still under pressure"
    consumer.on_buffer_drop(tp)  # drained to the pressure-drop mark
    results = await asyncio.wait_for(waiting, 5)
    assert results.results == ["put"]


async def test_a_rebalance_ends_the_wait_for_the_buffer_to_drain() -> None:
    consumer = _consumer()
    consumer.on_buffer_full(TP("rvrota.site-headcounts", 1))

    async def deliver() -> str:
        await asyncio.sleep(0.001)
        return "put"

    waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    consumer.stop_flow()  # partitions are being reassigned
    results = await asyncio.wait_for(waiting, 5)
    assert results.results == ["put"]
    consumer.resume_flow()
    assert (await consumer.wait_first(deliver(), consumer.suspend_flow.wait())).results == ["put"]
