"""Write-path phases of the API benchmark (bench/api.py): the outbox with the broker up and down.

At a fixed rate (open loop), ``POST /sites/{id}/headcounts`` as the dispatcher:
- broker up: the write's latency, and outbox-to-topic latency: from the 202 answer to
  the event read from ``rvrota.site-headcounts`` by a consumer (fetch wait 5 ms), next
  to the server's own histogram (stored in the outbox -> acknowledged by the broker);
- broker down (stopped): the write's latency; then the broker starts again and every
  write accepted while it was down must reach the topic once: the drain time from the
  broker answering to the last of them read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

HEADCOUNTS = "rvrota.site-headcounts"
RELAY_BUCKET = re.compile(r'^rvrota_outbox_publish_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$')


@dataclass
class Writes:
    name: str
    latencies: list[float] = field(default_factory=list)
    answered: dict[str, float] = field(default_factory=dict)  # event id -> wall time of 202
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class TopicWatch:
    """Reads a topic from given positions (or its end) and notes when each event id arrives."""

    def __init__(self, bootstrap: str, topic: str = HEADCOUNTS) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.seen: dict[str, float] = {}
        self.copies: Counter[str] = Counter()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, positions: dict[TopicPartition, int] | None = None) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=5,
        )
        await consumer.start()
        parts = consumer.partitions_for_topic(self.topic)
        deadline = time.monotonic() + 30
        while not parts:
            if time.monotonic() > deadline:
                raise SystemExit(f"topic {self.topic} has no partitions")
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if positions is None:
            await consumer.seek_to_end(*tps)
        else:
            for tp in tps:
                consumer.seek(tp, positions.get(tp, 0))
        for tp in tps:
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batch.values():
                for record in records:
                    event_id = str(json.loads(record.value)["event_id"])
                    self.copies[event_id] += 1
                    self.seen.setdefault(event_id, now)

    async def stop(self) -> dict[TopicPartition, int]:
        """Stop reading; the positions reached, to go on from there."""
        assert self._consumer is not None and self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        positions = {tp: await self._consumer.position(tp) for tp in self._consumer.assignment()}
        await self._consumer.stop()
        return positions

    async def wait_for(self, ids: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not ids <= set(self.seen):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True


async def write_loop(
    client: httpx.AsyncClient,
    name: str,
    headers: dict[str, str],
    sites: list[str],
    rate: float,
    seconds: float,
) -> Writes:
    """Headcount writes started at a fixed rate; latency from each write's planned start."""
    out = Writes(name)
    interval = 1.0 / rate
    start = time.perf_counter()

    async def one(i: int, planned: float) -> None:
        try:
            r = await client.post(
                f"/api/v1/sites/{sites[i % len(sites)]}/headcounts",
                json={"count": 100 + i % 900},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            out.errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
        else:
            if r.status_code == 202:
                out.answered[r.json()["event_id"]] = time.time()
            else:
                out.errors[f"HTTP {r.status_code}: {r.text[:100]}"] += 1
        out.latencies.append(time.perf_counter() - planned)

    tasks = []
    for i in range(int(rate * seconds)):
        planned = start + i * interval
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, planned)))
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - start
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def write_line(w: Writes, reference_p99_ms: float) -> str:
    n = len(w.latencies)
    p99 = pct(w.latencies, 0.99)
    return (
        f"{w.name:<34} n={n:>5} {n / w.seconds:>6.0f} req/s  p50 {pct(w.latencies, 0.5):6.2f} ms  "
        f"p99 {p99:6.2f} ms  max {max(w.latencies) * 1000:6.1f} ms  "
        f"accepted {len(w.answered)}  errors {sum(w.errors.values())}"
        f"  (p99 x{p99 / reference_p99_ms:.1f} of /healthz)"
    )


async def one_at_a_time(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sites: list[str],
    cpu_seconds: Callable[[], float | None],
    label: str,
    n: int = 200,
) -> str:
    """Writes one at a time: what a write costs the server, its relay turn included."""
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        r = await client.post(
            f"/api/v1/sites/{sites[i % len(sites)]}/headcounts", json={"count": 2}, headers=headers
        )
        assert r.status_code == 202, r.text
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    cpu = "n/a" if cpu0 is None or cpu1 is None else f"{(cpu1 - cpu0) / n * 1000:.2f} ms"
    return f"writes one at a time, {label}: {(t1 - t0) / n * 1000:.2f} ms each, server CPU {cpu}"


async def relay_buckets(client: httpx.AsyncClient) -> dict[float, float]:
    text = (await client.get("/metrics")).text
    out: dict[float, float] = {}
    for line in text.splitlines():
        m = RELAY_BUCKET.match(line)
        if m:
            out[float(m.group(1))] = float(m.group(2))
    return out


def bucket_p99(before: dict[float, float], after: dict[float, float]) -> str:
    diff = {le: after[le] - before.get(le, 0.0) for le in after}
    total = diff.get(float("inf"), 0.0)
    if total <= 0:
        return "n/a"
    for le in sorted(diff):
        if diff[le] >= 0.99 * total:
            return f"<= {le * 1000:g} ms"
    return "n/a"


async def write_phases(
    client: httpx.AsyncClient,
    bootstrap: str,
    headers: dict[str, str],
    sites: list[str],
    rate: float,
    seconds: float,
    reference_p99_ms: float,
    stop_broker: Callable[[], Awaitable[None]],
    start_broker: Callable[[], Awaitable[None]],
    cpu_seconds: Callable[[], float | None] = lambda: None,
) -> list[str]:
    lines: list[str] = []
    watch = TopicWatch(bootstrap)
    await watch.start()
    for i in range(20):  # warm up the write path and the relay
        await client.post(
            f"/api/v1/sites/{sites[i]}/headcounts", json={"count": 1}, headers=headers
        )
    await asyncio.sleep(1.0)
    lines.append(await one_at_a_time(client, headers, sites, cpu_seconds, "broker up"))
    await asyncio.sleep(0.5)

    b0 = await relay_buckets(client)
    up = await write_loop(
        client, f"POST headcount @ {rate:.0f}/s, broker up", headers, sites, rate, seconds
    )
    arrived = await watch.wait_for(set(up.answered), 60.0)
    b1 = await relay_buckets(client)
    lines.append(write_line(up, reference_p99_ms))
    to_topic = [max(0.0, watch.seen[e] - t) for e, t in up.answered.items() if e in watch.seen]
    p99 = pct(to_topic, 0.99)
    worst = max(to_topic, default=0.0) * 1000
    lines.append(
        f"{'outbox -> topic (202 -> consumed)':<34} n={len(to_topic):>5}               "
        f"p50 {pct(to_topic, 0.5):6.2f} ms  p99 {p99:6.2f} ms  max {worst:6.1f} ms"
        f"  target p99 <= 100 ms: {'met' if arrived and p99 <= 100 else 'NOT met'}"
        f"  server-side (stored -> acked) p99 {bucket_p99(b0, b1)}"
    )

    positions = await watch.stop()
    await stop_broker()
    lines.append(await one_at_a_time(client, headers, sites, cpu_seconds, "broker DOWN"))
    down = await write_loop(
        client, f"POST headcount @ {rate:.0f}/s, broker DOWN", headers, sites, rate, seconds
    )
    lines.append(write_line(down, reference_p99_ms))
    ready = (await client.get("/readyz")).json()
    restarted = time.perf_counter()
    await start_broker()
    answering = time.perf_counter()
    watch = TopicWatch(bootstrap)
    await watch.start(positions)
    complete = await watch.wait_for(set(down.answered), 180.0)
    drained = time.perf_counter()
    await asyncio.sleep(1.0)  # a late copy would show up now
    await watch.stop()
    once = sum(1 for e in down.answered if watch.copies[e] == 1)
    lines.append(
        f"broker down {seconds:.0f} s: /readyz {ready['status']} with outbox depth "
        f"{ready['checks'].get('outbox_depth')}; broker back in {answering - restarted:.1f} s, "
        f"then all {len(down.answered)} accepted writes on the topic "
        f"{'in' if complete else 'NOT within'} {drained - answering:.2f} s, "
        f"{once} of them exactly once"
    )
    for w in (up, down):
        for reason, count in w.errors.most_common(5):
            lines.append(f"  {w.name}: error x{count}: {reason}")
    return lines
