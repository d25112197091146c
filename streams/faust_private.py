"""Every part of Faust (faust-streaming) and mode that the worker reaches past their API.

The worker relies on a few private parts of faust-streaming 0.15.x; this module is the
only one that touches them, so that an upgrade has one place to read and one set of
contract tests to fail (``tests/streams/test_faust_private.py``):

- ``Consumer._committed_offset``: the group's committed offset per partition (the
  consumer lag; Faust has no getter).
- ``stream.channel.queue``: a stream's buffer, to end a batch when it is empty.
- ``App._new_transport``: the transport class an app builds (the eager transport).
- ``App.sensors`` / ``App.monitor``: the statistics monitor, taken off the sensors.
- ``Consumer.on_buffer_full`` / ``on_buffer_drop`` / ``_reset_state`` /
  ``_buffered_partitions``: when the stream buffers fill and drain.
- ``Consumer.wait_first`` (``mode.Service.wait_first``, ``WaitResults``): how a fetched
  message is delivered to the streams (``streams.transport``).

``check_version`` runs when the worker's app is built: another version of
faust-streaming stops the worker with an error naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import Service, WaitResults

__all__ = [
    "SUPPORTED",
    "AiokafkaTransport",
    "AppHooks",
    "FlowConsumer",
    "Service",
    "UnsupportedFaust",
    "WaitResults",
    "check_version",
    "committed_offsets",
    "installed_version",
    "stream_buffer_empty",
]

SUPPORTED = "0.15."  # faust-streaming 0.15.x
DISTRIBUTION = "faust-streaming"

AiokafkaTransport = faust_aiokafka.Transport


class UnsupportedFaust(RuntimeError):
    """The installed faust-streaming is not the version whose private parts are known."""


def installed_version() -> str:
    return metadata.version(DISTRIBUTION)


def check_version(version: str | None = None) -> None:
    """Raise ``UnsupportedFaust`` unless faust-streaming is 0.15.x (``version``: the
    installed one unless given)."""
    found = installed_version() if version is None else version
    if not found.startswith(SUPPORTED):
        raise UnsupportedFaust(
            f"faust-streaming {found} is installed; the stream worker needs "
            f"{SUPPORTED}x (it relies on private parts of it: streams/faust_private.py)"
        )


def committed_offsets(consumer: Any) -> Mapping[Any, int | None]:
    """The group's committed offset per partition, as the consumer last committed it."""
    committed: Mapping[Any, int | None] = consumer._committed_offset
    return committed


def stream_buffer_empty(stream: Any) -> bool:
    """Is nothing waiting in the stream's buffer (its channel's queue)?"""
    return bool(stream.channel.queue.empty())


class AppHooks(faust.App):
    """``faust.App`` building ``transport_class`` and calling no statistics sensor.

    Faust's ``Monitor`` keeps statistics for Faust's own web views and is called several
    times for every event. The monitor object stays (the consumer records commits in
    it); it is only no longer called per event.
    """

    transport_class: type[faust_aiokafka.Transport] = faust_aiokafka.Transport

    def _new_transport(self) -> Any:
        return self.transport_class(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Iterable[Any]:
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies


class FlowConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer telling subclasses when its stream buffers fill up
    (``on_buffers_full``), have all drained (``on_buffers_drained``) and when its state
    is reset on a rebalance (``on_flow_reset``)."""

    def on_buffer_full(self, tp: Any) -> None:
        super().on_buffer_full(tp)
        if self._buffered_partitions:
            self.on_buffers_full()

    def on_buffer_drop(self, tp: Any) -> None:
        super().on_buffer_drop(tp)
        if not self._buffered_partitions:
            self.on_buffers_drained()

    def _reset_state(self) -> None:
        super()._reset_state()
        self.on_flow_reset()

    def on_buffers_full(self) -> None:
        """Some partition's buffer is full."""

    def on_buffers_drained(self) -> None:
        """No partition's buffer is under pressure any more."""

    def on_flow_reset(self) -> None:
        """The consumer's state was reset (a rebalance)."""
