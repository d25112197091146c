"""The Faust app of the stream worker: topics, tables and agents, built by ``create_app``.

Agents (each with concurrency 1, faust-streaming #606):

- ``ingest_headcounts`` / ``ingest_vehicle_statuses``: raw events in batches; each one is
  validated (``fleet.events``), bad ones go to the dead-letter topic with their original
  bytes, source topic, partition, offset and a reason naming the field, and to the
  ``dead_letter`` table (the dispatchers' view); accepted ones are persisted in one
  transaction per batch (idempotent per event id), an event the database refuses for its
  content is isolated and dead-lettered (``streams.isolate``), and material changes ask
  for a plan. The newest headcount per site and each vehicle's current status live in
  the database; a per-process cache of the newest headcounts (``streams.state``) is
  emptied whenever partitions move.
- ``follow-site-visits``: the booking side of ``rvrota.site-visits`` (``streams.site_visits``):
  the bookings of the sessions a new plan moved follow them or are cancelled, once per
  message; bad ones dead-lettered like the ingest agents'.
- ``plan_regions``: plan requests coalesced per region and week over
  ``plan_coalesce_seconds``; the scenario is built from live state, solved in a thread,
  stored in one transaction, published to ``rvrota.plans`` (unless held for approval)
  with each vehicle's changes on ``rvrota.vehicle-assignments``.
- a timer (leader only) makes sure every region has plans for this week and the next.

The database is the source of truth. There are no Faust tables (and so no changelog to
recover after a rebalance, faust-streaming #597 / #651): a partition taken over from a
dead worker is consumed at once. Events are acknowledged only after their batch took
effect (at-least-once delivery). /readyz reports partitions with events waiting whose
committed offset has not moved for ``ready_stall_seconds``.

This module wires them (``create_app``); the work is elsewhere, one job per module:
``streams.worker`` (the state the agents share), ``streams.ingest_handlers`` and
``streams.plan_handlers`` (the agents' bodies), ``streams.batching`` (batches and
acknowledgement), ``streams.lag`` (consumer lag and stalls), ``streams.services``
(publisher, health server, pools), ``streams.worker_app`` (the ``faust.App`` subclass).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import faust

from core.clock import Clock, clock_from_settings
from core.metrics import ServiceMetrics, create_metrics
from fleet.db import Engine, make_engine
from streams import records
from streams.batching import pipelined
from streams.checkins import handle_checkins
from streams.config import StreamsSettings, Topics
from streams.faust_private import check_version
from streams.ingest_handlers import handle_headcounts, handle_vehicle_statuses
from streams.lag import refresh_lag, update_lag
from streams.plan_handlers import handle_plan_requests, reconcile
from streams.publish import EventPublisher
from streams.services import services_of
from streams.site_visits import handle_site_visits
from streams.state import StallWatch
from streams.worker import Worker
from streams.worker_app import WorkerApp

__all__ = ["broker_urls", "create_app", "worker_of"]


def worker_publisher(settings: StreamsSettings, topics: Topics) -> EventPublisher:
    """The worker's producer (not yet started): dead letters, plan requests, plans, with
    ``RVROTA_PRODUCER_COMPRESSION``."""
    name = settings.producer_compression
    return EventPublisher(
        settings.kafka_bootstrap,
        topics=topics,
        # no linger: what is sent together is handed over together (``send_many``), and
        # aiokafka's linger timer cost about 0.8 ms of CPU per send (a batch's letters:
        # 1.4 ms with a 5 ms linger, 0.5 ms without)
        linger_ms=0,
        compression_type=None if name == "none" else name,
    )


def broker_urls(bootstrap: str) -> list[str]:
    """``host1:9092,host2:9092`` -> Faust broker URLs."""
    return [f"kafka://{part.strip()}" for part in bootstrap.split(",") if part.strip()]


def create_app(
    settings: StreamsSettings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    metrics: ServiceMetrics | None = None,
) -> faust.App:
    """The worker's Faust app; nothing connects until the app is started."""
    check_version()
    topics = Topics.with_prefix(settings.topic_prefix)
    worker = Worker(
        settings=settings,
        topics=topics,
        clock=clock or clock_from_settings(settings),
        engine=engine or make_engine(settings.database_url),
        metrics=metrics or create_metrics(),
        publisher=worker_publisher(settings, topics),
        stall=StallWatch(settings.ready_stall_seconds),
    )
    datadir = Path(tempfile.gettempdir()) / "rvrota-faust" / settings.worker_group
    datadir.mkdir(parents=True, exist_ok=True)
    app = WorkerApp(
        settings.worker_group,
        broker=broker_urls(settings.kafka_bootstrap),
        store="memory://",
        autodiscover=False,
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication,
        producer_acks=-1,
        producer_linger_ms=10,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        broker_rebalance_timeout=20.0,
        stream_wait_empty=False,
        stream_buffer_maxsize=settings.stream_buffer_size,
        consumer_max_fetch_size=settings.consumer_max_fetch_bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.worker = worker

    partitions = settings.kafka_partitions

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(
            name, key_type=bytes, value_type=bytes, partitions=partitions, internal=True
        )

    headcounts = raw_topic(topics.headcounts)
    statuses = raw_topic(topics.vehicle_status)
    plan_requests = raw_topic(topics.plan_requests)
    checkin_events = raw_topic(topics.checkins)
    site_visits = raw_topic(topics.site_visits)
    declared = [
        app.topic(
            topics.plans, value_type=records.PlanPublished, partitions=partitions, internal=True
        ),
        app.topic(
            topics.vehicle_assignments,
            value_type=records.VehicleAssigned,
            partitions=partitions,
            internal=True,
        ),
        app.topic(
            topics.dead_letters,
            value_type=records.DeadLettered,
            partitions=partitions,
            internal=True,
        ),
    ]

    batch_size = settings.ingest_batch_size
    # the batch under way may take most of the stop budget; the rest is for the final
    # commit before the process ends anyway (streams.stopping)
    drain = max(settings.stop_drain_seconds - 2.0, settings.stop_drain_seconds / 2)

    @app.agent(headcounts, concurrency=1, name="ingest-headcounts")
    async def ingest_headcounts(stream: Any) -> None:
        await pipelined(stream, batch_size, lambda b: handle_headcounts(worker, b), drain)

    @app.agent(statuses, concurrency=1, name="ingest-vehicle-statuses")
    async def ingest_vehicle_statuses(stream: Any) -> None:
        await pipelined(
            stream,
            batch_size,
            lambda b: handle_vehicle_statuses(worker, b),
            drain,
        )

    @app.agent(checkin_events, concurrency=1, name="keep-checkins")
    async def keep_checkins(stream: Any) -> None:
        await pipelined(stream, batch_size, lambda b: handle_checkins(worker, b), drain)

    @app.agent(site_visits, concurrency=1, name="follow-site-visits")
    async def follow_site_visits(stream: Any) -> None:
        await pipelined(stream, batch_size, lambda b: handle_site_visits(worker, b), drain)

    @app.agent(plan_requests, concurrency=1, name="plan-regions")
    async def plan_regions(stream: Any) -> None:
        async for batch in stream.take_events(1000, within=settings.plan_coalesce_seconds):
            await handle_plan_requests(worker, batch)

    @app.timer(settings.reconcile_seconds, on_leader=True, name="reconcile-plans")
    async def reconcile_plans() -> None:
        if not worker.stopping:
            await reconcile(worker)

    @app.timer(2.0, name="consumer-lag")
    async def consumer_lag() -> None:
        await refresh_lag(worker, app)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.partitions_moved()
        update_lag(worker, app)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.partitions_moved()
        update_lag(worker, app)

    app.service(services_of(worker, app, declared))
    return app


def worker_of(app: faust.App) -> Worker:
    found: Worker = app.worker  # type: ignore[attr-defined]
    return found
