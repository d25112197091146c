"""Probes and metrics, outside the versioned prefix."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api import schemas
from api.deps import ServicesDep, forbidden
from core.metrics_access import MetricsAccess

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz() -> schemas.Health:
    """The process is up."""
    return schemas.Health(status="ok")


@router.get(
    "/readyz",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "database or broker unreachable"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the database answers and the Kafka broker is reachable."""

    def database_ok() -> bool:
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False

    checks = {
        "database": await run_in_threadpool(database_ok),
        "kafka": await services.publisher.ready(),
    }
    ok = all(checks.values())
    body = schemas.Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        403: {"description": "not from RVROTA_METRICS_CLIENTS and no RVROTA_METRICS_TOKEN"},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition: requests and latency per route, and the shared metrics.

    Only for clients in ``RVROTA_METRICS_CLIENTS`` (default: this host), or with
    ``Authorization: Bearer <RVROTA_METRICS_TOKEN>``.
    """
    access: MetricsAccess = request.app.state.metrics_access
    peer = request.client.host if request.client is not None else None
    if not access.allows(peer, request.headers.get("authorization")):
        raise forbidden("metrics: not from an allowed address, and no valid metrics token")
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
