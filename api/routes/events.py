"""Writes that become events: headcounts, vehicle status, re-plan requests (202 + event_id).

The body is validated here (422 naming the field), turned into the event of the
contract (fleet.events), checked against the clock, and stored in the outbox
(fleet.outbox) together with the answer to its ``Idempotency-Key``, in one
transaction; the API's relay (api.relay) publishes it to Kafka, at once or when the
broker returns. ``Idempotency-Key`` makes a repeated request give the same answer and
one effect; the event id is derived from the key, so even a race yields one event id.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import access, schemas
from api.deps import CurrentUser, Dispatcher, Services, ServicesDep, forbidden
from api.errors import domain_error
from api.idempotent_writes import mark_answered, response_to_keep
from api.plan_asks import askable_weeks, plan_ask, withdraw_plan_ask
from api.relay import wall_now
from api.security import Principal
from api.store import not_found, plan_public, region_or_default, unprocessable, week_or_current
from fleet import edits, events, outbox, plans
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
}


def _event_id(principal: Principal, key: str | None, request: str) -> str:
    if key is None:
        return events.new_event_id()
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{principal.user_id}\n{request}\n{key}"))


# what a write produces: topic, key, value, and the answer's body
Message = tuple[str, str, bytes, dict[str, Any]]


async def _produce_once(
    services: Services,
    principal: Principal,
    key: str | None,
    request: Request,
    build: Callable[[str], Message],
) -> JSONResponse:
    """Store ``build(event_id)`` -> (topic, key, value, answer) in the outbox; answer 202.

    The event and the stored answer to the caller's ``Idempotency-Key`` commit in one
    transaction, so the write is accepted (and a retry replays its event id) whether
    the broker is up or down; the relay publishes it. Replays of a key never reach this
    point (api.idempotent_writes answers them); the event id is derived from the key,
    and the outbox stores an event id once, so even two racing first requests make one
    event.
    """
    what = f"{request.method} {request.url.path}"
    event_id = _event_id(principal, key, what)
    topic, event_key, value, answer = build(event_id)
    response = JSONResponse(answer, status_code=status.HTTP_202_ACCEPTED)
    stored = None
    if key is not None:
        stored = outbox.Answer(
            principal.user_id, key, response.status_code, response_to_keep(response)
        )
    message = outbox.Message(topic, event_key, value, event_id)
    await run_in_threadpool(outbox.accept, services.engine, [message], wall_now(), stored)
    if stored is not None:
        mark_answered(request.scope)
    services.relay.notify()
    return response


def _rejected(exc: events.EventRejected) -> HTTPException:
    return unprocessable(exc.field, exc.reason, "body")


E = TypeVar("E", events.HeadcountEvent, events.VehicleStatusEvent)


def _message(
    services: Services,
    now: datetime,
    topic: str,
    key: str,
    make: Callable[[], E],
    check: Callable[..., E],
) -> Message:
    """The event made and checked against the clock (a broken rule: 422 naming the field)."""
    try:
        event = check(make(), now, max_future_seconds=services.settings.event_max_future_seconds)
    except events.EventRejected as exc:
        raise _rejected(exc) from exc
    return topic, key, event.to_bytes(), {"event_id": event.event_id, "topic": topic}


def _storable_path(name: str, value: str) -> None:
    """A path id the database could not even look up (NUL, lone surrogate): 422."""
    problem = events.text_problem(value)
    if problem is not None:
        raise unprocessable(name, problem, "path")


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
    _storable_path("site_id", site_id)
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    if not await run_in_threadpool(_exists, services, Site, site_id):
        raise not_found("site", site_id)
    now = services.clock.now()

    def build(event_id: str) -> Message:
        def make() -> events.HeadcountEvent:
            return events.HeadcountEvent(
                event_id=event_id,
                site_id=site_id,
                count=body.count,
                observed_at=body.observed_at or now,
                source="manager" if not principal.is_dispatcher else "dispatcher",
                shift=body.shift,
            )

        return _message(
            services, now, events.HEADCOUNTS_TOPIC, site_id, make, events.check_headcount
        )

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
    """Report the vehicle's status (arrived: on_site, leaving: en_route, breakdown, ...).

    Its driver for their own vehicle, a dispatcher for any vehicle. ``available`` ends an
    unavailability; ``en_route`` with ``late_minutes`` tells the next site's managers.
    """
    _storable_path("vehicle_id", vehicle_id)
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")
    if not await run_in_threadpool(_exists, services, Vehicle, vehicle_id):
        raise not_found("vehicle", vehicle_id)
    now = services.clock.now()

    def build(event_id: str) -> Message:
        def make() -> events.VehicleStatusEvent:
            return events.VehicleStatusEvent(
                event_id=event_id,
                vehicle_id=vehicle_id,
                status=body.status.value,
                observed_at=body.observed_at or now,
                lat=body.lat,
                lon=body.lon,
                until=body.until,
                note=body.note,
                late_minutes=body.late_minutes,
            )

        topic = events.VEHICLE_STATUS_TOPIC
        return _message(services, now, topic, vehicle_id, make, events.check_vehicle_status)

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

    def build(event_id: str) -> Message:
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
    },
)
async def publish_plan(
    services: ServicesDep, _: Dispatcher, plan_id: schemas.DbId
) -> schemas.PlanPublic:
    """Put a plan held for approval in force; drivers are told (rvrota.vehicle-assignments).

    The plan and its announcements (rvrota.plans, rvrota.vehicle-assignments) are stored
    in one transaction, the announcements in the outbox that the relay publishes.
    """

    def publish() -> schemas.PlanPublic:
        with session_scope(services.engine) as db:
            if plans.get_plan(db, plan_id) is None:
                raise not_found("plan", plan_id)
            try:
                outcome = plans.publish_plan(db, plan_id, services.clock.now())
            except DomainError as exc:
                raise domain_error(exc, "path") from exc
            row = outcome.plan
            document = {
                "format": "rvrota.plan/1",
                "scenario": (row.scenario or {}).get("name", ""),
                "sessions": row.sessions,
                "unserved": row.unserved,
                "stats": row.stats,
            }
            messages = edits.plan_announcements(outcome, document)
            outbox.enqueue(db, messages, wall_now())
            return plan_public(db, row)

    answer = await run_in_threadpool(publish)
    services.relay.notify()
    return answer
