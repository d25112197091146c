"""The services started and stopped with the worker's app, beside the agents.

The publisher, the health server (/healthz, /readyz, /metrics) and the thread pools.
On stop, the agents go first, so that a batch under way finishes with the publisher
and the database pool still up and is acknowledged before the consumer's final commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import faust
import mode

from core.metrics_access import MetricsAccess
from streams.health import HealthServer, build_health_app
from streams.worker import Worker

__all__ = ["WorkerServices", "services_of"]


class WorkerServices(mode.Service):
    """The publisher, the health server and the thread pools of ``worker``."""

    worker: ClassVar[Worker]
    app: ClassVar[faust.App]
    declared: ClassVar[Sequence[faust.TopicT]] = ()
    health: HealthServer | None = None

    async def on_start(self) -> None:
        worker = self.worker
        settings = worker.settings
        await worker.publisher.start()
        for topic in self.declared:
            await topic.maybe_declare()
        self.health = HealthServer(
            build_health_app(
                worker.metrics,
                worker.ready_problems,
                MetricsAccess.of(settings.metrics_client_list(), settings.metrics_token),
            ),
            settings.api_host,
            settings.worker_port,
        )
        await self.health.start()

    async def on_stop(self) -> None:
        # Faust stops this service before the agents; the agents go first here so
        # that a batch under way finishes with the publisher and the database pool
        # still up, and is acknowledged before the consumer's final commit
        worker = self.worker
        await self.app.agents.stop()
        worker.stopping = True
        if self.health is not None:
            await self.health.stop()
        await worker.publisher.stop()
        worker.db_pool.shutdown(wait=True)
        worker.plan_pool.shutdown(wait=False, cancel_futures=True)


def services_of(
    worker: Worker, app: faust.App, declared: Sequence[faust.TopicT]
) -> type[WorkerServices]:
    """``WorkerServices`` bound to one worker and app (Faust instantiates the class)."""
    attributes: dict[str, Any] = {"worker": worker, "app": app, "declared": tuple(declared)}
    return type("WorkerServices", (WorkerServices,), attributes)
