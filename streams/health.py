"""The worker's small HTTP server: /healthz, /readyz and /metrics (Prometheus text)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.metrics import CONTENT_TYPE, ServiceMetrics
from core.metrics_access import MetricsAccess

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[dict[str, str]]]


LOOPBACK = MetricsAccess.of(["127.0.0.0/8", "::1"], None)


def build_health_app(
    metrics: ServiceMetrics, ready: ReadyCheck, access: MetricsAccess = LOOPBACK
) -> web.Application:
    """/healthz and /readyz for anyone; /metrics only for ``access`` (default: this host)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        problems = await ready()
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics_view(request: web.Request) -> web.Response:
        if not access.allows(request.remote, request.headers.get("Authorization")):
            return web.json_response(
                {"detail": "metrics: not from an allowed address, and no valid metrics token"},
                status=403,
            )
        body = metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


class HealthServer:
    """Runs the health app on host:port inside the worker's event loop."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        log.info("worker health on http://%s:%d (/healthz /readyz /metrics)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
