"""The FastAPI application factory. Nothing is wired at import time.

``create_app(settings)`` returns an app whose lifespan creates the database
engine, the Kafka producer (unless one is passed in) and the outbox relay that
publishes the accepted writes (``api.relay``), and stops them at shutdown. Routes
reach them through ``request.app.state.services``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.clients import parse_networks
from api.deps import Services, language_of
from api.errors import domain_error, printable_errors
from api.headers import SecurityHeadersMiddleware
from api.idempotent_writes import IdempotencyMiddleware
from api.keys import KeySource
from api.limits import BodyLimitMiddleware
from api.models import create_api_tables
from api.observe import ApiMetrics, MetricsMiddleware
from api.publisher import KafkaPublisher, Publisher
from api.quietlog import quiet_kafka_logs
from api.relay import OutboxRelay
from api.routes import (
    auth,
    bookings,
    channels,
    checkins,
    dead_letters,
    drafts,
    edits,
    events,
    export,
    health,
    notifications,
    overdue,
    plan_history,
    registry,
    schedule,
    users,
    workers,
)
from api.sms import SmsSender
from core.clock import Clock, clock_from_settings
from core.metrics import create_metrics
from core.metrics_access import MetricsAccess
from core.settings import Settings
from fleet.db import make_engine
from fleet.domain import DomainError
from fleet.error_messages import error_message

log = logging.getLogger(__name__)

SHUTDOWN_STEP_SECONDS = 10.0
API_PREFIX = "/api/v1"
API_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or a bad, expired or revoked one"},
    403: {"description": "valid token, but not for this object or role"},
    409: {"description": "writes: a request with this Idempotency-Key is still running"},
    413: {"description": "request body larger than RVROTA_MAX_BODY_BYTES"},
}
STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """
rvrota schedules mobile shared workers' homes (流动共享职工之家): RVs rotating across
construction sites. Dispatchers steer the weekly rotation, site managers post how many
workers are on site, drivers fetch their next stop and report arrived / leaving / broken down.

Authenticate with `POST /api/v1/auth/token` (OAuth2 password form) and send
`Authorization: Bearer <token>`. A missing or bad token gets 401; a valid token for an
object the caller is not bound to gets 403.

Every write (POST, PUT, PATCH, DELETE) accepts an `Idempotency-Key` header: the same
key with the same request gives the same answer (header `Idempotent-Replayed: true`)
and has one effect.
"""


def _error(
    request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error answer: ``detail`` as the contract has it, ``message`` in the caller's words."""
    message = error_message(status, detail, language_of(request))
    return JSONResponse({"detail": detail, "message": message}, status_code=status, headers=headers)


def create_app(
    settings: Settings, *, clock: Clock | None = None, publisher: Publisher | None = None
) -> FastAPI:
    """The HTTP API and pages for ``settings``; ``clock`` and ``publisher`` may be injected."""
    the_clock = clock if clock is not None else clock_from_settings(settings)
    metrics = ApiMetrics(create_metrics())
    proxies = parse_networks(settings.trusted_proxy_list())
    metrics_access = MetricsAccess.of(settings.metrics_client_list(), settings.metrics_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Enough pooled connections for the worker threads (40): a connection opened and
        # dropped per burst costs a file open and a schema parse on SQLite.
        engine = make_engine(settings.database_url, pool_size=20, max_overflow=30)
        await run_in_threadpool(create_api_tables, engine)
        keys = KeySource(settings, engine)
        await run_in_threadpool(keys.start)
        loud_again = quiet_kafka_logs()  # a broker that is away: not a line per retry
        the_publisher = (
            publisher
            if publisher is not None
            else KafkaPublisher(
                settings.kafka_bootstrap, retry_max_seconds=settings.outbox_retry_max_seconds
            )
        )
        await the_publisher.start()
        relay = OutboxRelay.from_settings(settings, engine, the_publisher, metrics)
        await relay.start()  # publishes what earlier runs left in the outbox, then new writes
        sms = SmsSender.from_settings(settings, engine, the_clock)
        if sms is not None:
            sms.start()
        app.state.services = Services(
            settings, the_clock, engine, the_publisher, keys, relay, proxies
        )
        # Everything built so far lives as long as the process: out of the collector's
        # sight, a full collection under load is a pause of microseconds instead of one of
        # 100-500 ms on every connection at once (the p99 of bench/api.py's mixed clients).
        gc.collect()
        gc.freeze()
        log.info(
            "API ready: database %s, Kafka %s",
            engine.url.render_as_string(),
            settings.kafka_bootstrap,
        )
        try:
            yield
        finally:
            # bounded: a stop that hangs (a producer future that never resolves) must not
            # keep the process from ending; unsent rows stay in the outbox either way
            steps = [("relay", relay.stop), ("publisher", the_publisher.stop)]
            if sms is not None:
                steps.insert(0, ("SMS sender", sms.stop))
            for what, stopping in steps:
                try:
                    await asyncio.wait_for(stopping(), SHUTDOWN_STEP_SECONDS)
                except TimeoutError:
                    log.warning("%s did not stop within %.0f s", what, SHUTDOWN_STEP_SECONDS)
            engine.dispose()
            loud_again()

    app = FastAPI(
        title="rvrota",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs from the app's own files (no CDN)
        redoc_url=None,
        openapi_tags=[
            {"name": "auth", "description": "tokens and the caller"},
            {"name": "sites", "description": "construction sites (工地)"},
            {"name": "vehicles", "description": "RVs: mobile shared homes"},
            {
                "name": "events",
                "description": "headcounts and vehicle status: stored, then published to Kafka",
            },
            {"name": "schedule", "description": "the weekly rotation"},
            {"name": "plans", "description": "re-plans, publishing, pins"},
            {"name": "notifications", "description": "what changed since you last looked"},
        ],
    )
    app.state.metrics = metrics
    app.state.metrics_access = metrics_access
    app.add_middleware(
        IdempotencyMiddleware, prefix=API_PREFIX, services=lambda scope: scope["app"].state.services
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # an unreadable body (not UTF-8, not JSON, broken form) is a bad body: 422 like the rest
            detail = [{"loc": ["body"], "msg": "could not parse the body", "type": "value_error"}]
            return _error(request, 422, detail)
        if exc.status_code < 400 or exc.status_code in (204, 304):
            return await http_exception_handler(request, exc)
        return _error(request, exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = printable_errors(jsonable_encoder(exc.errors()))
        return _error(request, 422, detail)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        http = domain_error(exc)
        return _error(request, http.status_code, http.detail)

    for router in (
        auth.router,
        registry.router,
        users.router,
        events.router,
        schedule.router,
        edits.router,
        drafts.router,
        dead_letters.router,
        plan_history.router,
        export.router,
        notifications.router,
        checkins.router,
        overdue.router,
        channels.router,
        bookings.router,
        workers.router,
    ):
        app.include_router(router, prefix=API_PREFIX, responses=API_RESPONSES)
    app.include_router(health.router)

    from api import checkin_page, docs, pages

    app.include_router(pages.router)
    app.include_router(checkin_page.router)
    docs.mount_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app for the settings in the environment (uvicorn's factory for several workers)."""
    from core.settings import get_settings

    return create_app(get_settings())
