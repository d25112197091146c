"""Writes that become events: headcounts, vehicle status, re-plan requests (202 + event_id).

The body is validated here (422 naming the field), turned into the event of the
contract (fleet.events), checked against the clock, and produced to Kafka.
``Idempotency-Key`` makes a repeated request give the same answer and one effect;
the event id is derived from the key, so even a race yields one event id.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import access, schemas
from api.deps import CurrentUser, Dispatcher, Services, ServicesDep, forbidden
from api.errors import domain_error
from api.plan_asks import askable_weeks, plan_ask, withdraw_plan_ask
from api.publisher import PublishError
from api.security import Principal
from api.store import not_found, plan_public, region_or_default, unprocessable, week_or_current
from fleet import events, plans
from fleet.db import session_scope
from fleet.domain import DomainError
from fleet.models import Site, Vehicle

log = logging.getLogger(__name__)
router = APIRouter()
EVENT_NAMESPACE = uuid.UUID("6f1c9e36-8c55-4d0c-9d7b-3f3a2c0e7a11")

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="same key and body: same answer, one effect",
    ),
]
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "not bound to this object"},
    404: {"description": "not found"},
    409: {"description": "a request with this Idempotency-Key is in progress"},
    503: {"description": "the event broker is not reachable"},
}


def _event_id(principal: Principal, key: str | None, request: str) -> str:
    if key is None:
        return events.new_event_id()
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{principal.user_id}\n{request}\n{key}"))


async def _produce_once(
    services: Services,
    principal: Principal,
    key: str | None,
    request: Request,
    build: Callable[[str], tuple[str, str, bytes, dict[str, Any]]],
) -> JSONResponse:
    """Produce ``build(event_id)`` -> (topic, key, value, answer) and answer 202.

    Replays of an ``Idempotency-Key`` never reach this point (api.idempotent_writes
    answers them); the event id is derived from the key, so even two racing first
    requests would carry one event id, which the stream processors apply once.
    """
    what = f"{request.method} {request.url.path}"
    topic, event_key, value, answer = build(_event_id(principal, key, what))
    try:
        await services.publisher.send(topic, event_key, value)
    except PublishError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    return JSONResponse(answer, status_code=status.HTTP_202_ACCEPTED)


def _rejected(exc: events.EventRejected) -> HTTPException:
    return unprocessable(exc.field, exc.reason, "body")


def _exists(services: Services, model: type[Site] | type[Vehicle], ident: str) -> bool:
    with session_scope(services.engine) as db:
        return db.get(model, ident) is not None


@router.post(
    "/sites/{site_id}/headcounts",
    status_code=202,
    response_model=schemas.EventAccepted,
    tags=["events"],
    responses=RESPONSES,
)
async def post_headcount(
    services: ServicesDep,
    principal: CurrentUser,
    request: Request,
    site_id: str,
    body: schemas.HeadcountCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Report today's workers on site; produced to rvrota.site-headcounts."""
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    if not await run_in_threadpool(_exists, services, Site, site_id):
        raise not_found("site", site_id)
    now = services.clock.now()

    def build(event_id: str) -> tuple[str, str, bytes, dict[str, Any]]:
        try:
            event = events.HeadcountEvent(
                event_id=event_id,
                site_id=site_id,
                count=body.count,
                observed_at=body.observed_at or now,
                source="manager" if not principal.is_dispatcher else "dispatcher",
                shift=body.shift,
            )
            events.check_headcount(
                event, now, max_future_seconds=services.settings.event_max_future_seconds
            )
        except events.EventRejected as exc:
            raise _rejected(exc) from exc
        answer = {"event_id": event_id, "topic": events.HEADCOUNTS_TOPIC}
        return events.HEADCOUNTS_TOPIC, site_id, event.to_bytes(), answer

    return await _produce_once(services, principal, idempotency_key, request, build)


@router.post(
    "/vehicles/{vehicle_id}/status",
    status_code=202,
    response_model=schemas.EventAccepted,
    tags=["events"],
    responses=RESPONSES,
)
async def post_vehicle_status(
    services: ServicesDep,
    principal: CurrentUser,
    request: Request,
    vehicle_id: str,
    body: schemas.VehicleStatusCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Report the vehicle's status (arrived: on_site, leaving: en_route, breakdown, ...)."""
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")
    if not await run_in_threadpool(_exists, services, Vehicle, vehicle_id):
        raise not_found("vehicle", vehicle_id)
    now = services.clock.now()

    def build(event_id: str) -> tuple[str, str, bytes, dict[str, Any]]:
        try:
            event = events.VehicleStatusEvent(
                event_id=event_id,
                vehicle_id=vehicle_id,
                status=body.status.value,
                observed_at=body.observed_at or now,
                lat=body.lat,
                lon=body.lon,
                until=body.until,
                note=body.note,
            )
            events.check_vehicle_status(
                event, now, max_future_seconds=services.settings.event_max_future_seconds
            )
        except events.EventRejected as exc:
            raise _rejected(exc) from exc
        answer = {"event_id": event_id, "topic": events.VEHICLE_STATUS_TOPIC}
        return events.VEHICLE_STATUS_TOPIC, vehicle_id, event.to_bytes(), answer

    return await _produce_once(services, principal, idempotency_key, request, build)


@router.post(
    "/plans",
    status_code=202,
    response_model=schemas.PlanRequestAccepted,
    tags=["plans"],
    responses=RESPONSES,
)
async def request_plan(
    services: ServicesDep,
    principal: Dispatcher,
    request: Request,
    body: schemas.PlanRequestCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Ask for a re-plan of a region-week; produced to rvrota.plan-requests.

    Only this week and the next two may be asked for (422 naming ``week`` otherwise).
    While an ask for the region-week waits for the planner, another joins it (202 with
    the waiting ask's ``event_id`` and ``coalesced: true``): one run, however many asks.
    """
    now = services.clock.now()

    def resolve() -> tuple[str, str]:
        with session_scope(services.engine) as db:
            region = region_or_default(db, body.region)
            week = week_or_current(region, body.week, now)
            askable_weeks(region, now, week)
            return region.id, week

    try:
        region_id, week = await run_in_threadpool(resolve)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise unprocessable("region", str(exc.detail), "body") from exc
        if isinstance(exc.detail, list):
            exc.detail[0]["loc"][0] = "body"
        raise

    def build(event_id: str) -> tuple[str, str, bytes, dict[str, Any]]:
        message = events.PlanRequest(
            region=region_id,
            week=week,
            reason=f"requested by dispatcher {principal.name}",
            requested_at=now,
            cause_event_id=event_id,
        )
        value = json.loads(message.to_bytes())
        value["event_id"] = event_id
        answer = {"event_id": event_id, "region": region_id, "week": week, "coalesced": False}
        return events.PLAN_REQUESTS_TOPIC, region_id, json.dumps(value).encode(), answer

    asked_id = _event_id(principal, idempotency_key, f"{request.method} {request.url.path}")
    standing = await run_in_threadpool(
        plan_ask, services, region_id, week, asked_id, principal.user_id
    )
    if standing.joined:
        answer = {"event_id": standing.event_id, "region": region_id, "week": week}
        return JSONResponse({**answer, "coalesced": True}, status_code=status.HTTP_202_ACCEPTED)
    try:
        return await _produce_once(
            services, principal, idempotency_key, request, lambda _: build(asked_id)
        )
    except BaseException:
        await run_in_threadpool(withdraw_plan_ask, services, region_id, week, asked_id)
        raise


@router.post(
    "/plans/{plan_id}/publish",
    response_model=schemas.PlanPublic,
    tags=["plans"],
    responses={
        404: {"description": "no such plan"},
        422: {"description": "the plan is not held (already published or superseded)"},
        503: {"description": "the event broker is not reachable"},
    },
)
async def publish_plan(
    services: ServicesDep, _: Dispatcher, plan_id: schemas.DbId
) -> schemas.PlanPublic:
    """Put a plan held for approval in force; drivers are told (rvrota.vehicle-assignments)."""

    def publish() -> tuple[schemas.PlanPublic, list[tuple[str, str, bytes]]]:
        with session_scope(services.engine) as db:
            if plans.get_plan(db, plan_id) is None:
                raise not_found("plan", plan_id)
            try:
                outcome = plans.publish_plan(db, plan_id, services.clock.now())
            except DomainError as exc:
                raise domain_error(exc, "path") from exc
            row = outcome.plan
            messages: list[tuple[str, str, bytes]] = []
            document = {
                "format": "rvrota.plan/1",
                "scenario": (row.scenario or {}).get("name", ""),
                "sessions": row.sessions,
                "unserved": row.unserved,
                "stats": row.stats,
            }
            messages.append(
                (
                    events.PLANS_TOPIC,
                    row.region_id,
                    events.plan_message(document, row.region_id, row.week, row.version),
                )
            )
            for vehicle, change in sorted(outcome.assignments.items()):
                message = events.VehicleAssignment(
                    vehicle_id=vehicle,
                    region=row.region_id,
                    week=row.week,
                    version=row.version,
                    added=change.added,
                    removed=change.removed,
                )
                messages.append((events.VEHICLE_ASSIGNMENTS_TOPIC, vehicle, message.to_bytes()))
            return plan_public(db, row), messages

    answer, messages = await run_in_threadpool(publish)
    try:
        for topic, key, value in messages:
            await services.publisher.send(topic, key, value)
    except PublishError as exc:
        log.error("plan %s published but not announced: %s", plan_id, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    return answer
