"""Prometheus metrics shared by the API and the stream workers.

One ``ServiceMetrics`` per process, built by its factory on a registry of its own
(nothing is registered at import), so tests can build as many as they like.
Names follow Prometheus conventions; ``render`` gives the text exposition for a
``/metrics`` endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "ServiceMetrics", "create_metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
PLAN_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True)
class ServiceMetrics:
    registry: CollectorRegistry
    events_accepted: Counter
    events_dead_lettered: Counter
    ingest_batch: Histogram
    consumer_lag: Gauge
    plan_latency: Histogram
    plans_published: Counter
    solver_gap: Gauge
    http_requests: Counter

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def create_metrics(registry: CollectorRegistry | None = None) -> ServiceMetrics:
    """Build the service's metrics on ``registry`` (a fresh one by default)."""
    reg = registry if registry is not None else CollectorRegistry()
    return ServiceMetrics(
        registry=reg,
        events_accepted=Counter(
            "rvrota_events_accepted",
            "Events accepted, per topic",
            ["topic"],
            registry=reg,
        ),
        events_dead_lettered=Counter(
            "rvrota_events_dead_lettered",
            "Events sent to the dead-letter topic, per source topic and reason field",
            ["topic", "field"],
            registry=reg,
        ),
        ingest_batch=Histogram(
            "rvrota_ingest_batch_events",
            "Events handled together in one transaction by an ingest agent, per topic",
            ["topic"],
            buckets=BATCH_SIZE_BUCKETS,
            registry=reg,
        ),
        consumer_lag=Gauge(
            "rvrota_consumer_lag",
            "Messages not yet consumed (committed after their effect), per topic and partition",
            ["topic", "partition"],
            registry=reg,
        ),
        plan_latency=Histogram(
            "rvrota_plan_latency_seconds",
            "From the first plan request of a batch to the plan stored and published",
            ["region"],
            buckets=PLAN_LATENCY_BUCKETS,
            registry=reg,
        ),
        plans_published=Counter(
            "rvrota_plans_published",
            "Plans stored and published (or held for approval), per region",
            ["region"],
            registry=reg,
        ),
        solver_gap=Gauge(
            "rvrota_solver_gap",
            "Relative gap (bound - objective) / max(1, |bound|) of the newest plan, per region",
            ["region"],
            registry=reg,
        ),
        http_requests=Counter(
            "rvrota_http_requests",
            "HTTP requests answered, per method, route and status class",
            ["method", "route", "status"],
            registry=reg,
        ),
    )
