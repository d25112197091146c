"""Scale-out: two `rvrota worker` processes in one consumer group share the regions.

Real broker, real PostgreSQL. Regions are chosen so that every partition of the
region-keyed topics holds some (the partition of each key is computed with
Kafka's murmur2 partitioner and checked against where the messages really
land). Both workers must hold partitions and plan their regions; after one is
killed with SIGKILL, the other takes over all partitions, no event is lost and
no region is left unplanned.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from fleet.db import make_engine, session_scope
from fleet.migrate import upgrade
from fleet.scenario_io import import_scenario
from tests.fixtures.kafka import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 6
REGIONS_PER_PARTITION = 2
START = "2026-11-23T06:00:00+08:00"  # Monday of 2026-W48, in the scenarios' zone
WEEK = "2026-W48"


def partition_of(key: str, partitions: int) -> int:
    """Kafka's default partitioner (Java client and aiokafka): murmur2, positive, modulo."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def choose_regions(partitions: int, per_partition: int) -> dict[str, int]:
    """Region ids such that every partition holds ``per_partition`` of them."""
    chosen: dict[str, int] = {}
    counts = dict.fromkeys(range(partitions), 0)
    i = 0
    while min(counts.values()) < per_partition:
        name = f"region-{i:03d}"
        p = partition_of(name, partitions)
        if counts[p] < per_partition:
            chosen[name] = p
            counts[p] += 1
        i += 1
    return chosen


def tiny_scenario(region: str) -> dict[str, Any]:
    """Three sites and one RV around a depot, one week of lunch and evening slots."""
    sites = [
        {
            "id": f"{region}-S{k}",
            "name": f"{region} site {k}",
            "lat": 24.90 + 0.01 * k,
            "lon": 118.70 + 0.01 * k,
            "headcount": 100 + 50 * k,
            "min_visits": 1,
        }
        for k in range(1, 4)
    ]
    return {
        "format": "rvrota.scenario/1",
        "name": region,
        "timezone": "Asia/Shanghai",
        "start_date": "2026-11-23",
        "days": 7,
        "slots": [
            {"id": "lunch", "start": "11:30", "end": "13:30"},
            {"id": "evening", "start": "18:00", "end": "21:00"},
        ],
        "setup_minutes": 30,
        "travel": {"model": "haversine", "speed_kmh": 30, "circuity": 1.3},
        "depots": [{"id": f"{region}-D1", "lat": 24.93, "lon": 118.73}],
        "sites": sites,
        "vehicles": [{"id": f"{region}-RV1", "depot": f"{region}-D1", "max_drive_minutes": 240}],
    }


# --- workers -----------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        response = httpx.get(self.url + "/metrics", timeout=5)
        response.raise_for_status()
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return out

    def planned_regions(self) -> set[str]:
        return {
            labels["region"]
            for labels, value in self.metrics().get("rvrota_plans_published_total", [])
            if value > 0
        }

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@dataclass
class Cluster:
    env: dict[str, str]
    tmp: Path
    workers: list[Worker]

    def start(self, name: str) -> Worker:
        port = free_port()
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "rvrota", "worker"],
                env={**self.env, "RVROTA_WORKER_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, process, f"http://127.0.0.1:{port}", log)
        self.workers.append(worker)
        return worker


def wait_until(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    workers: list[Worker],
    detail: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.process.poll() is not None:
                raise AssertionError(f"{worker.name} exited:\n{worker.tail()}")
        try:
            result = check()
        except (httpx.HTTPError, OSError, KafkaError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(0.5)
    logs = "\n".join(f"--- {w.name}\n{w.tail()}" for w in workers)
    more = detail() if detail is not None else ""
    raise AssertionError(
        f"{what}: not within {timeout:.0f} s (last error {last_error}) {more}\n{logs}"
    )


@pytest.fixture
def cluster(kafka_bootstrap: str, postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RVROTA_")}
    env.update(
        RVROTA_ENVIRONMENT="test",
        RVROTA_DATABASE_URL=postgres_url,
        RVROTA_KAFKA_BOOTSTRAP=kafka_bootstrap,
        RVROTA_KAFKA_PARTITIONS=str(PARTITIONS),
        RVROTA_TOPIC_PREFIX=f"scale{run}.",
        RVROTA_WORKER_GROUP=f"rvrota-scale-{run}",
        RVROTA_CLOCK_START=START,
        RVROTA_CLOCK_SPEED="1",
        RVROTA_CLOCK_ANCHOR=repr(time.time()),
        RVROTA_PLAN_TIME_LIMIT="2",
        RVROTA_PLAN_COALESCE_SECONDS="0.5",
        RVROTA_RECONCILE_SECONDS="2",
    )
    handle = Cluster(env, tmp_path, [])
    try:
        yield handle
    finally:
        for worker in handle.workers:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in handle.workers:
            try:
                worker.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait(10)


# --- Kafka and database probes ------------------------------------------------


async def _group_assignment(bootstrap: str, group: str, topic: str) -> list[set[int]] | None:
    """Partitions of ``topic`` held by each member of a stable consumer group, as the
    broker's group coordinator reports them (None while the group rebalances)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # One broker here: it is the coordinator (FindCoordinator v0, which aiokafka's
        # admin client sends, is gone from Kafka 4).
        brokers = admin._client.cluster.brokers()  # noqa: SLF001
        coordinator = next(iter(brokers)).nodeId if len(brokers) == 1 else None
        responses = await admin.describe_consumer_groups([group], coordinator)
    finally:
        await admin.close()
    members: list[set[int]] = []
    for response in responses:
        for described in response.to_object()["groups"]:
            if described["group"] != group:
                continue
            if described["state"] != "Stable":
                return None
            for member in described["members"]:
                assignment = ConsumerProtocolMemberAssignment.decode(member["member_assignment"])
                held: set[int] = set()
                for assigned_topic, partitions in assignment.assignment:
                    if assigned_topic == topic:
                        held |= set(partitions)
                members.append(held)
    return members


async def _topic_partitions(bootstrap: str, topic: str) -> set[int]:
    """The partitions of ``topic`` as the broker describes them."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {int(p["partition"]) for p in described["partitions"]}


async def _keys_by_partition(bootstrap: str, topic: str) -> dict[int, set[str]]:
    """Every message key on ``topic`` by the partition it landed on (read to the end)."""
    from aiokafka import TopicPartition

    parts = [TopicPartition(topic, p) for p in sorted(await _topic_partitions(bootstrap, topic))]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: dict[int, set[str]] = {}

        async def behind() -> bool:
            positions = [await consumer.position(tp) for tp in parts]
            return any(pos < ends[tp] for pos, tp in zip(positions, parts, strict=True))

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    found.setdefault(tp.partition, set()).add((message.key or b"").decode())
        return found
    finally:
        await consumer.stop()


async def _send_surges(
    bootstrap: str, topic: str, regions: list[str], at: datetime, count: int
) -> list[str]:
    """A material headcount jump at the first site of each region; the event ids."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    ids = []
    try:
        for region in regions:
            event_id = str(uuid.uuid4())
            site = f"{region}-S1"
            value = {
                "event_id": event_id,
                "site_id": site,
                "count": count,
                "observed_at": at.isoformat(),
                "source": "gate",
            }
            await producer.send_and_wait(topic, json.dumps(value).encode(), key=site.encode())
            ids.append(event_id)
    finally:
        await producer.stop()
    return ids


async def _request_plans(bootstrap: str, topic: str, regions: list[str]) -> None:
    """Ask for a plan of the week for each region (the plan-request contract)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for region in regions:
            request = {
                "region": region,
                "week": WEEK,
                "reason": "regions imported (scale-out test)",
                "requested_at": START,
                "cause_event_id": None,
            }
            await producer.send_and_wait(topic, json.dumps(request).encode(), key=region.encode())
    finally:
        await producer.stop()


def _latest_versions(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT region_id, max(version) FROM plan WHERE week = :w GROUP BY region_id"),
                {"w": WEEK},
            ).all()
    finally:
        engine.dispose()
    return {str(r[0]): int(r[1]) for r in rows}


def _reports(url: str, event_ids: list[str]) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_id, count(*) FROM headcountreport "
                    "WHERE event_id = ANY(:ids) GROUP BY event_id"
                ),
                {"ids": event_ids},
            ).all()
    finally:
        engine.dispose()
    return {str(r[0]): int(r[1]) for r in rows}


# --- the test -------------------------------------------------------------------


def test_two_workers_share_regions_and_one_takes_over_after_kill(
    cluster: Cluster, postgres_url: str
) -> None:
    env = cluster.env
    prefix = env["RVROTA_TOPIC_PREFIX"]
    requests_topic = prefix + "rvrota.plan-requests"
    plans_topic = prefix + "rvrota.plans"
    headcounts_topic = prefix + "rvrota.site-headcounts"
    bootstrap = env["RVROTA_KAFKA_BOOTSTRAP"]

    regions = choose_regions(PARTITIONS, REGIONS_PER_PARTITION)
    upgrade(postgres_url)
    a = cluster.start("worker-a")
    b = cluster.start("worker-b")
    workers = [a, b]

    group = env["RVROTA_WORKER_GROUP"]

    def assignment() -> list[set[int]] | None:
        return asyncio.run(_group_assignment(bootstrap, group, requests_topic))

    def shared() -> list[set[int]] | None:
        members = assignment()
        if members is None or len(members) != 2 or not all(members):
            return None
        first, second = members
        return members if not first & second and first | second == set(range(PARTITIONS)) else None

    # The regions arrive once the group is settled, so that each is planned by its owner.
    held = wait_until(shared, 180, "two members sharing every partition", workers)
    assert asyncio.run(_topic_partitions(bootstrap, requests_topic)) == set(range(PARTITIONS))
    owned = [{r for r, p in regions.items() if p in partitions} for partitions in held]
    assert all(owned) and owned[0] | owned[1] == set(regions)
    engine = make_engine(postgres_url)
    try:
        for region in regions:
            with session_scope(engine) as db:
                import_scenario(db, tiny_scenario(region), region)
    finally:
        engine.dispose()
    asyncio.run(_request_plans(bootstrap, requests_topic, sorted(regions)))

    # Every region gets a plan for the week; each worker planned (only) its own regions.
    wait_until(
        lambda: set(_latest_versions(postgres_url)) >= set(regions),
        180,
        "a plan for every region",
        workers,
    )
    wait_until(lambda: a.planned_regions() and b.planned_regions(), 60, "plans counted", workers)
    # Each worker planned the regions of exactly one member's partitions, and not the same one.
    mine = [
        next((i for i, regs in enumerate(owned) if w.planned_regions() <= regs), -1) for w in (a, b)
    ]
    assert sorted(mine) == [0, 1], (a.planned_regions(), b.planned_regions(), owned)
    regions_b = owned[mine[1]]
    assert wait_until(
        lambda: a.planned_regions() | b.planned_regions() == set(regions),
        60,
        "every region planned by its owner",
        workers,
    )

    # The keys really land where murmur2 says (checked on the broker, not assumed).
    for topic in (requests_topic, plans_topic):
        landed = asyncio.run(_keys_by_partition(bootstrap, topic))
        for partition, keys in landed.items():
            for key in keys:
                assert partition_of(key, PARTITIONS) == partition, (topic, key, partition)
    assert set().union(*asyncio.run(_keys_by_partition(bootstrap, plans_topic)).values()) >= set(
        regions
    )

    # Kill B, then surges arrive: on B's former partitions nothing was ever committed (no
    # headcount came before), which is the case of a quiet partition; each event must
    # still take effect exactly once, through the survivor.
    before = _latest_versions(postgres_url)
    at = datetime.fromisoformat(START) + timedelta(minutes=1)
    b.process.send_signal(signal.SIGKILL)
    b.process.wait(10)
    first = asyncio.run(_send_surges(bootstrap, headcounts_topic, sorted(regions), at, 900))
    later = at + timedelta(minutes=1)
    second = asyncio.run(_send_surges(bootstrap, headcounts_topic, sorted(regions), later, 2000))

    wait_until(
        lambda: assignment() == [set(range(PARTITIONS))],
        120,
        "the surviving worker holding every partition",
        [a],
    )
    event_ids = first + second
    persisted = wait_until(
        lambda: len(_reports(postgres_url, event_ids)) == len(event_ids),
        90,
        "every headcount event persisted",
        [a],
        detail=lambda: (
            f"persisted {len(_reports(postgres_url, event_ids))} of {len(event_ids)}; missing "
            f"first batch {sorted(set(first) - set(_reports(postgres_url, first)))[:3]}..., "
            f"second batch {len(set(second) - set(_reports(postgres_url, second)))}"
        ),
    )
    assert persisted
    assert set(_reports(postgres_url, event_ids).values()) == {1}, "an event took effect twice"

    def replanned() -> bool:
        now = _latest_versions(postgres_url)
        return all(now.get(r, 0) > before[r] for r in regions)

    wait_until(replanned, 180, "a new plan for every region after the kill", [a])
    assert a.planned_regions() >= regions_b, "A did not plan the regions it took over"
