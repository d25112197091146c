"""The local single-node Apache Kafka broker (KRaft, broker+controller).

The jars come from Maven Central through ``deploy/kafka/pom.xml`` (resolved by
``deploy/kafka/fetch.sh`` into Maven's cache); this module formats the storage,
runs ``kafka.Kafka`` as a detached JVM, waits until it answers, and stops it.
Everything lives under one home directory: ``server.properties``, ``data/``,
``broker.log`` and ``broker.pid``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import socket
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
KAFKA_DIR = REPO / "deploy" / "kafka"
CLASSPATH_FILE = REPO / "var" / "kafka-classpath.txt"
BROKER_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


class KafkaLocalError(RuntimeError):
    """The local broker could not be set up, started or stopped."""


@dataclass(frozen=True)
class BrokerConfig:
    home: Path
    port: int = 9092
    controller_port: int = 9093
    partitions: int = 6
    heap: str = "512m"

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerConfig:
        return cls(
            home=Path(settings.kafka_home).resolve(),
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            partitions=settings.kafka_partitions,
        )

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def properties_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


@dataclass(frozen=True)
class BrokerStatus:
    pid: int | None
    answering: bool
    bootstrap: str

    @property
    def running(self) -> bool:
        return self.pid is not None


def classpath() -> str:
    """The broker's class path, resolving the jars through Maven when not cached."""
    fetch = KAFKA_DIR / "fetch.sh"
    if not fetch.exists():
        raise KafkaLocalError(f"{fetch} not found: run from an rvrota checkout")
    result = subprocess.run(
        ["bash", str(fetch), str(CLASSPATH_FILE)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise KafkaLocalError(f"resolving the Kafka jars failed:\n{result.stderr.strip()}")
    lines = CLASSPATH_FILE.read_text().splitlines()
    cp = "".join(line for line in lines[1:] if line.strip())
    if not cp:
        raise KafkaLocalError(f"{CLASSPATH_FILE} lists no jars")
    return cp


def render_properties(config: BrokerConfig) -> str:
    template = string.Template((KAFKA_DIR / "server.properties.template").read_text())
    return template.substitute(
        port=config.port,
        controller_port=config.controller_port,
        log_dirs=str(config.data_dir),
        partitions=config.partitions,
    )


def _java(cp: str, config: BrokerConfig, *args: str) -> list[str]:
    return [
        "java",
        f"-Xmx{config.heap}",
        "-Xms64m",
        "-XX:+UseSerialGC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.xml'}",
        f"-Dkafka.logs.dir={config.home}",
        "-cp",
        cp,
        *args,
    ]


def format_storage(config: BrokerConfig, cp: str) -> None:
    """Write server.properties and format KRaft storage once (kept across restarts)."""
    config.home.mkdir(parents=True, exist_ok=True)
    config.properties_file.write_text(render_properties(config))
    if (config.data_dir / "meta.properties").exists():
        return
    uuid = subprocess.run(
        _java(cp, config, STORAGE_TOOL, "random-uuid"),
        capture_output=True,
        text=True,
        check=False,
    )
    if uuid.returncode != 0:
        raise KafkaLocalError(f"StorageTool random-uuid failed: {uuid.stderr.strip()}")
    cluster_id = uuid.stdout.strip().splitlines()[-1]
    fmt = subprocess.run(
        _java(
            cp,
            config,
            STORAGE_TOOL,
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(config.properties_file),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise KafkaLocalError(f"StorageTool format failed: {fmt.stdout}{fmt.stderr}".strip())
    log.info("formatted KRaft storage in %s (cluster %s)", config.data_dir, cluster_id)


def _is_broker_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return BROKER_CLASS.encode() in cmdline


def running_pid(config: BrokerConfig) -> int | None:
    """The pid of this home's broker, when it runs (stale pid files are ignored)."""
    try:
        pid = int(config.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_broker_process(pid) else None


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _answers(bootstrap: str, timeout: float) -> bool:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return bool(client.cluster.brokers()) and client.cluster.controller is not None
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return False
    finally:
        await client.close()


def answers(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a broker at ``bootstrap`` returns metadata naming a broker and a controller.

    Callable from synchronous code, also while an event loop runs in this thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_answers(bootstrap, timeout))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _answers(bootstrap, timeout)).result()


def status(config: BrokerConfig) -> BrokerStatus:
    pid = running_pid(config)
    ok = pid is not None and _port_open(config.port) and answers(config.bootstrap)
    return BrokerStatus(pid=pid, answering=ok, bootstrap=config.bootstrap)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(config: BrokerConfig, timeout: float = 120.0) -> BrokerStatus:
    """Start the broker (if it is not running) and wait until it answers."""
    pid = running_pid(config)
    proc: subprocess.Popen[bytes] | None = None
    if pid is None:
        for port in (config.port, config.controller_port):
            if _port_open(port):
                raise KafkaLocalError(f"port {port} is already in use by another process")
        cp = classpath()
        format_storage(config, cp)
        with config.log_file.open("ab") as out:
            proc = subprocess.Popen(
                _java(cp, config, BROKER_CLASS, str(config.properties_file)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=config.home,
                start_new_session=True,
            )
        pid = proc.pid
        config.pid_file.write_text(f"{pid}\n")
        log.info("started Kafka broker pid %d on %s", pid, config.bootstrap)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = proc.poll() is not None if proc is not None else not _is_broker_process(pid)
        if gone:
            config.pid_file.unlink(missing_ok=True)
            raise KafkaLocalError(
                f"the broker exited during start; end of {config.log_file}:\n"
                + _tail(config.log_file)
            )
        if _port_open(config.port) and answers(config.bootstrap):
            return BrokerStatus(pid=pid, answering=True, bootstrap=config.bootstrap)
        time.sleep(0.3)
    raise KafkaLocalError(
        f"the broker did not answer on {config.bootstrap} within {timeout:.0f} s; "
        f"end of {config.log_file}:\n" + _tail(config.log_file)
    )


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # reap it if it is our child (a zombie has no command line)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _is_broker_process(pid):
            return True
        time.sleep(0.2)
    return not _is_broker_process(pid)


def stop(config: BrokerConfig, timeout: float = 30.0) -> bool:
    """Stop the broker: SIGTERM, wait for a clean shutdown, then SIGKILL. False if none ran."""
    pid = running_pid(config)
    if pid is None:
        config.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        log.warning("broker pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10.0)
    config.pid_file.unlink(missing_ok=True)
    log.info("stopped Kafka broker pid %d", pid)
    return True
