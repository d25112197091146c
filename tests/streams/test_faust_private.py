"""The private parts of Faust (faust-streaming) and mode the worker relies on are still
there, as ``streams.faust_private`` uses them (no broker needed).

These are contract tests against the installed Faust: an upgrade that renames, removes
or reshapes one of them fails here, naming it, before the worker misbehaves.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import faust
import pytest
from faust.channels import Channel
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.services import Service, WaitResults

from streams import faust_private
from streams.config import StreamsSettings
from streams.transport import EagerConsumer
from streams.worker_app import WorkerApp


def _params(fn: object) -> list[str]:
    return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]


def test_the_installed_faust_is_the_supported_version() -> None:
    faust_private.check_version()  # raises on any other version
    assert faust_private.installed_version().startswith("0.15.")


@pytest.mark.parametrize("version", ["0.16.0", "0.14.9", "1.0.0", "0.1.5"])
def test_another_version_stops_the_worker_with_an_error_naming_it(version: str) -> None:
    with pytest.raises(faust_private.UnsupportedFaust, match=rf"faust-streaming {version} "):
        faust_private.check_version(version)


def test_building_the_app_checks_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams import app

    monkeypatch.setattr(faust_private, "installed_version", lambda: "0.16.1")
    with pytest.raises(faust_private.UnsupportedFaust, match="0.16.1"):
        app.create_app(StreamsSettings(database_url="sqlite://"))


def test_the_consumer_keeps_its_committed_offsets_in_a_mapping() -> None:
    source = inspect.getsource(faust_consumer.Consumer.__init__)
    assert "self._committed_offset = " in source
    hints = faust_consumer.Consumer.__annotations__
    assert "_committed_offset" in hints and "MutableMapping" in str(hints["_committed_offset"])


def test_the_committed_offsets_are_read_from_the_consumer() -> None:
    class Held:
        _committed_offset: Mapping[TP, int | None] = {TP("t", 0): 12}

    assert faust_private.committed_offsets(Held()) == {TP("t", 0): 12}


async def test_a_stream_buffer_is_its_channels_queue() -> None:
    app = faust.App("faust-private-contract", broker="memory://", store="memory://")
    assert isinstance(inspect.getattr_static(Channel, "queue"), property)
    stream = app.stream(app.channel())
    assert stream.channel.queue is stream.channel.queue  # one buffer per channel
    assert faust_private.stream_buffer_empty(stream)
    stream.channel.queue.put_nowait(1)
    assert not faust_private.stream_buffer_empty(stream)


def test_an_app_builds_its_transport_in_new_transport() -> None:
    assert _params(faust.App._new_transport) == ["self"]
    assert "_new_transport()" in inspect.getsource(faust.App)  # the transport property
    app = WorkerApp("faust-private-contract", broker="kafka://localhost:1")
    assert isinstance(app.transport, faust_private.AiokafkaTransport)
    assert app.transport.Consumer is EagerConsumer


def test_the_monitor_is_one_of_the_sensors_and_can_be_taken_off() -> None:
    assert isinstance(inspect.getattr_static(faust.App, "monitor"), property)
    assert _params(faust.App.on_init_dependencies) == ["self"]
    app = WorkerApp("faust-private-contract", broker="kafka://localhost:1")
    app.on_init_dependencies()
    assert app.monitor not in list(app.sensors)


def test_the_consumer_hooks_on_its_buffers_still_exist() -> None:
    consumer = faust_aiokafka.Consumer
    for name in ("on_buffer_full", "on_buffer_drop"):
        assert _params(getattr(consumer, name)) == ["self", "tp"], name
    assert _params(consumer._reset_state) == ["self"]
    assert _params(consumer.resume_flow) == ["self"]
    assert "_buffered_partitions" in faust_consumer.Consumer.__annotations__
    assert "self._buffered_partitions.add(tp)" in inspect.getsource(consumer.on_buffer_full)
    assert "buffered_partitions.discard(tp)" in inspect.getsource(consumer.on_buffer_drop)
    assert "self._buffered_partitions = set()" in inspect.getsource(consumer._reset_state)


def test_messages_are_delivered_through_wait_first() -> None:
    """The eager transport replaces ``wait_first``: the consumer must deliver through it,
    with the delivery first and the suspended flow second."""
    assert _params(Service.wait_first) == ["self", "coros", "timeout"]
    assert _params(WaitResults) == ["done", "results", "stopped"]
    source = inspect.getsource(faust_consumer)
    assert "self.wait_first(" in source and "self.suspend_flow.wait()" in source


def test_the_fetch_size_setting_reaches_the_kafka_consumer() -> None:
    """``RVROTA_CONSUMER_MAX_FETCH_BYTES`` is Faust's ``consumer_max_fetch_size``, which
    the aiokafka driver hands to the consumer as ``max_partition_fetch_bytes``."""
    from streams import app

    built = app.create_app(
        StreamsSettings(database_url="sqlite://", consumer_max_fetch_bytes=3 * 1024**2)
    )
    assert built.conf.consumer_max_fetch_size == 3 * 1024**2
    default = app.create_app(StreamsSettings(database_url="sqlite://"))
    assert default.conf.consumer_max_fetch_size == 8 * 1024**2
    source = inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread)
    assert "max_partition_fetch_bytes=conf.consumer_max_fetch_size" in source
