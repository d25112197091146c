"""Request metrics (Prometheus) as a plain ASGI middleware."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import ServiceMetrics

API_PREFIX = "/api/v1"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class ApiMetrics:
    """The shared service metrics plus the API's request latency histogram."""

    def __init__(self, service: ServiceMetrics) -> None:
        self.service = service
        self.latency = Histogram(
            "rvrota_http_request_duration_seconds",
            "Time to answer an HTTP request, per method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=service.registry,
        )
        self.outbox_depth = Gauge(
            "rvrota_outbox_depth",
            "Accepted events in the outbox not yet published to Kafka (all API processes)",
            registry=service.registry,
        )
        self.outbox_oldest_age = Gauge(
            "rvrota_outbox_oldest_unsent_age_seconds",
            "Seconds the oldest unpublished outbox row has waited (0 when none waits)",
            registry=service.registry,
        )
        self.outbox_published = Counter(
            "rvrota_outbox_published",
            "Outbox rows published to Kafka by this process's relay, per topic",
            ["topic"],
            registry=service.registry,
        )
        self.outbox_latency = Histogram(
            "rvrota_outbox_publish_latency_seconds",
            "From an event stored in the outbox to the broker's acknowledgement",
            buckets=RELAY_BUCKETS,
            registry=service.registry,
        )

    def render(self) -> bytes:
        return self.service.render()


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    # routes of an included router carry their path without the router's prefix
    full = str(scope.get("path", ""))
    if full.startswith(API_PREFIX + "/") and not str(path).startswith(API_PREFIX):
        return API_PREFIX + str(path)
    return str(path)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.service.http_requests.labels(
                method, route, f"{status_code // 100}xx"
            ).inc()
