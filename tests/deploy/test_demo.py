"""`rvrota demo` end to end, headless: a real broker, the worker(s) and the API as
child processes on free ports, a fast clock. Over HTTP: plans are published, the
breakdown removes the RV from the plan and its return brings it back. Then
SIGINT (Ctrl-C) must leave no process behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.proctree import Proc, descendants, kill_groups, still_alive
from tests.fixtures.kafka import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SPEED = 3600  # one simulated hour per real second
SAFETY_DURATION = 400  # the demo stops by itself after this, should SIGINT never come
WEEK = "2026-W48"
REGION = "default"


@dataclass
class DemoProcess:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    seen: dict[tuple[int, int], Proc] = field(default_factory=dict)
    _queue: queue.Queue[str] = field(default_factory=queue.Queue)

    def pump(self) -> None:
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for proc in descendants(self.process.pid):
            self.seen[(proc.pid, proc.start)] = proc

    def output(self) -> str:
        self.pump()
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            for line in self.lines:
                found = re.search(pattern, line)
                if found:
                    return found
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output()}")


def _read(stream: Any, sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RVROTA_")}
    ports = set()
    while len(ports) < 4:
        ports.add(free_port())
    api, worker, kafka, controller = sorted(ports)
    env.update(
        RVROTA_ENVIRONMENT="development",
        RVROTA_API_PORT=str(api),
        RVROTA_WORKER_PORT=str(worker),
        RVROTA_KAFKA_PORT=str(kafka),
        RVROTA_KAFKA_CONTROLLER_PORT=str(controller),
        RVROTA_PLAN_TIME_LIMIT="3",
        RVROTA_PLAN_COALESCE_SECONDS="1",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rvrota",
            "demo",
            "--speed",
            str(SPEED),
            "--duration",
            str(SAFETY_DURATION),
            "--home",
            str(tmp_path / "var"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    handle = DemoProcess(process)
    threading.Thread(target=_read, args=(process.stdout, handle._queue), daemon=True).start()
    try:
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        kill_groups(list(handle.seen.values()))


def _active(schedule: dict[str, Any], vehicle: str) -> set[int]:
    """Days on which ``vehicle`` has a session that is not cancelled."""
    return {
        s["day"]
        for s in schedule["sessions"]
        if s["vehicle"] == vehicle and s.get("state", "planned") != "cancelled"
    }


def _poll_schedule(
    demo: DemoProcess, client: httpx.Client, token: str, until: Any, timeout: float, what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        demo.pump()
        assert demo.process.poll() is None, f"the demo exited early:\n{demo.output()}"
        response = client.get(
            "/api/v1/schedule",
            params={"region": REGION, "week": WEEK},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        last = response.json()
        if until(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen within {timeout:.0f} s; last schedule: {last}")


def _login(demo: DemoProcess, client: httpx.Client, password: str) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        demo.pump()
        assert demo.process.poll() is None, f"the demo exited early:\n{demo.output()}"
        try:
            response = client.post(
                "/api/v1/auth/token", data={"username": "dispatcher", "password": password}
            )
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])
    raise AssertionError(f"the API did not answer; output:\n{demo.output()}")


def test_demo_replans_for_a_breakdown_and_stops_cleanly_on_sigint(demo: DemoProcess) -> None:
    api_url = demo.wait_for(r"board \(dispatcher\):\s+(http://\S+)/board", 180).group(1)
    password = demo.wait_for(r"^\s+dispatcher\s+dispatcher\s+(\S+)\s+all$", 5).group(1)
    script = demo.wait_for(r"(\S+) breaks down (\S+) and returns (\S+)", 5)
    rv = script.group(1)
    assert date.fromisoformat(script.group(2)[:10]) < date.fromisoformat(script.group(3)[:10])

    with httpx.Client(base_url=api_url, timeout=10) as client:
        token = _login(demo, client, password)
        assert client.get("/readyz").status_code == 200
        assert client.get("/docs").status_code == 200

        # The first plan uses the RV on day 1 (no event is sent before it is out)...
        before = _poll_schedule(
            demo, client, token, lambda s: s["plan_version"] is not None, 240, "a first plan"
        )
        assert 1 in _active(before, rv), f"{rv} has no day-1 session in the first plan"
        demo.wait_for(r"published: plan v\d+ for default 2026-W48", 30)
        demo.wait_for(rf"driver: {rv} breaks down", 120)
        # ...a plan after the breakdown has none for it from day 1 on...
        broken = _poll_schedule(
            demo,
            client,
            token,
            lambda s: (
                (s["plan_version"] or 0) > (before["plan_version"] or 0)
                and not {d for d in _active(s, rv) if d >= 1}
            ),
            120,
            f"a plan without {rv} from day 1",
        )
        assert broken["sessions"], "the re-plan dropped every session"
        others = {s["vehicle"] for s in broken["sessions"] if s.get("state") != "cancelled"}
        assert others - {rv}, "the other RVs lost their sessions too"
        # ...and once it is back, it gets sessions again.
        demo.wait_for(rf"driver: {rv} is back in service", 120)
        back = _poll_schedule(
            demo,
            client,
            token,
            lambda s: (
                s["plan_version"] > broken["plan_version"] and {d for d in _active(s, rv) if d >= 2}
            ),
            120,
            f"a plan giving {rv} sessions again",
        )
        assert back["plan_version"] > broken["plan_version"] > before["plan_version"]

    assert re.search(r"plans published \d+, events sent \d+", demo.output())
    demo.pump()
    children = list(demo.seen.values())
    commands = " ".join(p.command for p in children)
    assert "kafka.Kafka" in commands and " worker" in commands and " serve" in commands

    demo.process.send_signal(signal.SIGINT)
    code = demo.process.wait(90)
    output = demo.output()
    assert code == 0, output
    assert "all stopped" in output
    time.sleep(0.5)
    left = [p for p in children if still_alive(p)]
    assert not left, "left running after SIGINT:\n" + "\n".join(
        f"{p.pid} {p.command}" for p in left
    )
