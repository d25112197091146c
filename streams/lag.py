"""``rvrota_consumer_lag`` for the partitions this worker holds, and the stall watch."""

from __future__ import annotations

import contextlib
import logging
import time

import faust

from streams.faust_private import committed_offsets
from streams.state import consumed_position
from streams.worker import Worker

log = logging.getLogger(__name__)


def update_lag(worker: Worker, app: faust.App) -> None:
    """``rvrota_consumer_lag`` for exactly the partitions this worker holds now.

    Lag counts from the group's committed offset: the worker commits only events whose
    batch took effect, so a batch stuck in the database shows as lag that does not move
    (``StallWatch``), not only a fetcher that stopped reading. Events deleted by retention
    before they were consumed do not count (``refresh_lag`` asks where partitions start).
    """
    consumer = app.consumer
    held = set(consumer.assignment())
    held_keys = {(tp.topic, tp.partition) for tp in held}
    gauge = worker.metrics.consumer_lag
    for topic, partition in worker.lag_labels - held_keys:
        with contextlib.suppress(KeyError):
            gauge.remove(topic, str(partition))
        worker.lag_labels.discard((topic, partition))
    for tp in [tp for tp in worker.earliest if tp not in held]:
        del worker.earliest[tp]
    committed = committed_offsets(consumer)
    watched = (worker.topics.headcounts, worker.topics.vehicle_status)
    progress: dict[tuple[str, int], tuple[int, int]] = {}
    for tp in held:
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not known yet: report the partition as held
            highwater = None
        commit = committed.get(tp)
        position = consumed_position(commit, worker.earliest.get(tp))
        lag = max(0, highwater - position) if highwater is not None else 0
        gauge.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
        worker.lag_labels.add((tp.topic, tp.partition))
        known = commit is not None or tp in worker.earliest
        if tp.topic in watched and highwater is not None and known:
            progress[(tp.topic, tp.partition)] = (position, lag)
    worker.stall.observe(progress, time.monotonic())


async def refresh_lag(worker: Worker, app: faust.App) -> None:
    """``update_lag``, after asking the broker where each lagging partition starts."""
    consumer = app.consumer
    committed = committed_offsets(consumer)
    lagging = []
    for tp in consumer.assignment():
        with contextlib.suppress(Exception):  # highwater not known yet
            if consumer.highwater(tp) > (committed.get(tp) or 0):
                lagging.append(tp)
    if lagging:
        try:
            worker.earliest.update(await consumer.earliest_offsets(*lagging))
        except Exception as exc:  # noqa: BLE001 - figures only; the next tick retries
            log.debug("earliest offsets not known: %s", exc)
    update_lag(worker, app)
