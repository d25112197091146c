"""Probes and metrics, outside the versioned prefix."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import schemas
from api.deps import ServicesDep, forbidden
from api.relay import observe_backlog, wall_now
from core.metrics_access import MetricsAccess
from fleet import outbox

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz() -> schemas.Health:
    """The process is up."""
    return schemas.Health(status="ok")


@router.get(
    "/readyz",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "database unreachable"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the database answers and the outbox relay runs (writes are accepted).

    ``status`` is ``ok`` when the Kafka broker is reachable too, and ``degraded`` (still
    200) while it is not: writes are accepted into the outbox and published when the
    broker returns. ``checks`` says which, with the outbox's depth and the age in
    seconds of its oldest unpublished event.
    """

    def database_ok() -> outbox.Backlog | None:
        try:  # one query: the database answers, and how much waits in the outbox
            return observe_backlog(services.engine, services.relay.metrics)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return None

    backlog = await run_in_threadpool(database_ok)
    checks: dict[str, Any] = {
        "database": backlog is not None,
        "kafka": await services.publisher.ready(),
        "relay": services.relay.running(),
    }
    if backlog is not None:
        checks["outbox_depth"] = backlog.depth
        checks["outbox_oldest_seconds"] = round(backlog.age_seconds(wall_now()), 3)
    ready = checks["database"] and checks["relay"]
    state = "unavailable" if not ready else "ok" if checks["kafka"] else "degraded"
    body = schemas.Health(status=state, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        403: {"description": "not from RVROTA_METRICS_CLIENTS and no RVROTA_METRICS_TOKEN"},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus text: requests and latency per route, the outbox, the shared metrics.

    Only for clients in ``RVROTA_METRICS_CLIENTS`` (default: this host), or with
    ``Authorization: Bearer <RVROTA_METRICS_TOKEN>``.
    """
    access: MetricsAccess = request.app.state.metrics_access
    peer = request.client.host if request.client is not None else None
    if not access.allows(peer, request.headers.get("authorization")):
        raise forbidden("metrics: not from an allowed address, and no valid metrics token")
    services = request.app.state.services
    with contextlib.suppress(Exception):  # the database down: the gauges keep their last value
        observe_backlog(services.engine, services.relay.metrics)
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
