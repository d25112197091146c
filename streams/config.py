"""Worker settings: the service's ``Settings`` plus the knobs only the stream worker reads.

Each field is ``RVROTA_<NAME>`` in the environment, like every other setting. The
topic names are the public contract (``fleet.events``); ``topic_prefix`` exists so
that test runs and benchmarks sharing one broker do not read each other's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from core.settings import Settings
from fleet import events


class StreamsSettings(Settings):
    worker_group: str = Field("rvrota-worker", description="Kafka consumer group / Faust app id")
    ingest_batch_size: int = Field(
        1000, ge=1, description="most events persisted per transaction (a batch is what waits)"
    )
    stop_drain_seconds: float = Field(
        15.0,
        gt=0,
        description="on stop, how long a batch under way may take to finish; the process "
        "ends this long after SIGTERM at the latest (broker or database down)",
    )
    log_repeat_seconds: float = Field(
        10.0, gt=0, description="a warning repeated (a broker that is down) logged once per"
    )
    stream_buffer_size: int = Field(
        16384, ge=1, description="events buffered per stream ahead of the agent (Faust)"
    )
    consumer_max_fetch_bytes: int = Field(
        8 * 1024**2,
        ge=64 * 1024,
        description="most bytes fetched per partition in one fetch (Faust's "
        "consumer_max_fetch_size, 1 MiB there): values over the event size limit, "
        "dead-lettered, fill a 1 MiB fetch with a few events",
    )
    reconcile_seconds: float = Field(
        30.0, gt=0, description="real seconds between checks that every region has its plans"
    )
    next_week_max_age_hours: float = Field(
        24.0, gt=0, description="re-plan the next week at least this often (service clock)"
    )
    plan_workers: int = Field(2, ge=1, description="solver threads per plan")
    producer_compression: Literal["none", "lz4", "gzip", "zstd", "snappy"] = Field(
        "lz4",
        description="compression of what the worker produces (dead letters keep originals of "
        "up to 512 KiB as base64: lz4 makes the broker store and move far fewer bytes)",
    )
    ready_stall_seconds: float = Field(
        60.0,
        gt=0,
        description="/readyz fails while a held ingest partition has events waiting and its "
        "position has not moved for this long",
    )


@dataclass(frozen=True)
class Topics:
    """The contract's topic names, with the optional prefix."""

    headcounts: str
    vehicle_status: str
    plan_requests: str
    plans: str
    vehicle_assignments: str
    dead_letters: str
    checkins: str = events.CHECKINS_TOPIC
    site_visits: str = events.SITE_VISITS_TOPIC

    @classmethod
    def with_prefix(cls, prefix: str = "") -> Topics:
        return cls(
            headcounts=prefix + events.HEADCOUNTS_TOPIC,
            vehicle_status=prefix + events.VEHICLE_STATUS_TOPIC,
            plan_requests=prefix + events.PLAN_REQUESTS_TOPIC,
            plans=prefix + events.PLANS_TOPIC,
            vehicle_assignments=prefix + events.VEHICLE_ASSIGNMENTS_TOPIC,
            dead_letters=prefix + events.DEAD_LETTERS_TOPIC,
            checkins=prefix + events.CHECKINS_TOPIC,
            site_visits=prefix + events.SITE_VISITS_TOPIC,
        )

    def all(self) -> tuple[str, ...]:
        return (
            self.headcounts,
            self.vehicle_status,
            self.plan_requests,
            self.plans,
            self.vehicle_assignments,
            self.dead_letters,
            self.checkins,
            self.site_visits,
        )
