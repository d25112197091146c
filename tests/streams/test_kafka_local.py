"""The local broker answers, takes and returns messages, and stops cleanly."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams import kafka_local
from tests.fixtures.kafka import free_port

pytestmark = pytest.mark.kafka


async def test_broker_round_trip(kafka_bootstrap: str) -> None:
    """A message produced with acks=all comes back to a consumer."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert (msg.key, msg.value) == (b"k", b"hello")


def test_start_status_stop(tmp_path: Path) -> None:
    """start formats storage once and answers; stop ends the JVM; status follows."""
    config = kafka_local.BrokerConfig(
        home=tmp_path / "k", port=free_port(), controller_port=free_port(), partitions=1
    )
    assert not kafka_local.status(config).running
    started = kafka_local.start(config, timeout=180)
    try:
        assert started.answering and started.pid is not None
        assert (config.data_dir / "meta.properties").exists()
        assert kafka_local.status(config).answering
        # a second start finds the running broker and does not spawn another
        assert kafka_local.start(config, timeout=30).pid == started.pid
    finally:
        assert kafka_local.stop(config)
    assert not kafka_local.status(config).running
    assert not config.pid_file.exists()
    assert not kafka_local.stop(config)


def test_cli_status_of_a_broker_that_is_not_running(tmp_path: Path) -> None:
    """`rvrota kafka status` exits 1 and says so when nothing runs in its home."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.update(
        {
            "RVROTA_KAFKA_HOME": str(tmp_path / "nothing"),
            "RVROTA_KAFKA_PORT": str(free_port()),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "rvrota", "kafka", "status"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "kafka: not running" in done.stdout
