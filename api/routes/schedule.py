"""Reads of the rotation: schedule, GeoJSON, next stop, visits, calendars; pins; plans."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic_core import to_json

from api import access, schemas
from api.deps import (
    WEEK,
    AtRegionWeek,
    CalendarUser,
    CurrentUser,
    DbDep,
    Dispatcher,
    FileLanguage,
    Language,
    Services,
    ServicesDep,
    TokenDep,
    forbidden,
    principal_from_token,
)
from api.feeds import FeedSession, calendar_document, geojson_document
from api.geo import navigation_links
from api.security import Principal
from api.store import (
    not_found,
    plan_public,
    region_or_default,
    region_slots,
    region_zone,
    schedule_rows,
    week_or_current,
    zone_of_region,
)
from fleet import plans, read_stamps, registry
from fleet.db import Connection, DbSession, read, read_db
from fleet.domain import week_start, zone
from fleet.messages import label
from fleet.models import Region, Session
from fleet.reports import VehicleState, late_sessions, vehicle_states

router = APIRouter()
NOT_YOURS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not bound to this object"},
    404: {"description": "not found"},
}
UNKNOWN_REGION: dict[int | str, dict[str, Any]] = {404: {"description": "unknown region"}}
CALENDAR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_YOURS,
    200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
}


def _feed_sessions(db: DbSession, sessions: list[Session]) -> list[FeedSession]:
    sites = registry.sites_by_id(db, sorted({s.site_id for s in sessions}))
    out = []
    for s in sessions:
        site = sites[s.site_id]
        assert s.id is not None
        out.append(
            FeedSession(
                id=s.id,
                vehicle=s.vehicle_id,
                site=s.site_id,
                site_name=site.name,
                address=site.address,
                lat=site.lat,
                lon=site.lon,
                day=s.day,
                date=s.date,
                slot=s.slot,
                start=s.start,
                end=s.end,
                state=s.state,
                sequence=s.sequence,
            )
        )
    return out


# --- schedule ------------------------------------------------------------------------------


@router.get(
    "/schedule",
    response_model=schemas.SchedulePublic,
    tags=["schedule"],
    responses=UNKNOWN_REGION,
)
async def schedule(
    services: ServicesDep,
    token: TokenDep,
    region: str | None = None,
    week: str | None = WEEK,
) -> Response:
    """The weekly rotation, filtered to what the caller may see.

    A hot path (boards and phones poll it): one worker-thread call on one read
    connection; what only a write changes is kept serialised in this process under the
    read model's change counter (``fleet.read_stamps``), so a poll between two writes
    reads the token and the counter only (its shape is ``SchedulePublic``, which the
    schema tests check).
    """
    body = await run_in_threadpool(_schedule, services, token, region, week)
    return Response(body, media_type="application/json")


@dataclass(frozen=True)
class _Board:
    """What a schedule answer holds that only a write changes, serialised once: the JSON
    object without ``now`` and ``vehicle_states`` (made of ``states`` at each request)."""

    body: bytes
    tz: ZoneInfo
    states: tuple[VehicleState, ...]


def _schedule(services: Services, token: str | None, region: str | None, week: str | None) -> bytes:
    return read_db(services.engine, lambda db: _schedule_in(services, db, token, region, week))


def _schedule_in(
    services: Services, db: DbSession, token: str | None, region: str | None, week: str | None
) -> bytes:
    principal = principal_from_token(services, db, token)
    stamp = read_stamps.current(db)  # before the data: an answer is never older than this
    now = services.clock.now()
    reg: Region | None = None
    if week is None:  # this week: the region's zone says which
        reg = region_or_default(db, region)
        week = week_or_current(reg, None, now)
    if principal.is_dispatcher:
        view: tuple[Any, ...] = ("dispatcher",)
    elif principal.vehicle is not None:
        view = ("vehicle", principal.vehicle)
    else:
        view = ("sites", *sorted(principal.sites))
    key = (region, week, view)
    board = services.schedules.get(key, stamp)
    if board is None:
        if reg is None:
            reg = region_or_default(db, region)
        board = _board(db, reg, week_or_current(reg, week, now), principal)
        services.schedules.put(key, stamp, board)
    tail = to_json({"now": now.astimezone(board.tz), "vehicle_states": _vehicle_states(board, now)})
    return board.body[:-1] + b"," + tail[1:]


def _board(db: DbSession, reg: Region, wk: str, principal: Principal) -> _Board:
    tz = region_zone(reg)
    states: tuple[VehicleState, ...] = ()
    if principal.is_dispatcher:
        rows = schedule_rows(db, reg.id, wk, tz)
        fleet_rows = registry.list_vehicles(db, reg.id)
        vehicles = sorted(v.id for v in fleet_rows)
        found = vehicle_states(db, fleet_rows).values()
        states = tuple(sorted(found, key=lambda s: s.vehicle_id))
    elif principal.vehicle is not None:
        rows = schedule_rows(db, reg.id, wk, tz, vehicle=principal.vehicle)
        vehicles = [principal.vehicle]
    else:
        rows = schedule_rows(db, reg.id, wk, tz, sites=sorted(principal.sites))
        vehicles = sorted({str(r["vehicle"]) for r in rows})
    body = {
        "region": reg.id,
        "week": wk,
        "timezone": reg.timezone,
        "slots": [s.to_json() for s in region_slots(reg)],
        "start_date": week_start(wk, reg.week_start_weekday),
        "days": reg.days,
        "vehicles": vehicles,
        "plan_version": plans.plan_in_force_version(db, reg.id, wk),
        "sessions": rows,
    }
    return _Board(to_json(body), tz, states)


def _vehicle_states(board: _Board, now: datetime) -> list[dict[str, Any]]:
    def local(at: datetime | None) -> datetime | None:
        return at.astimezone(board.tz) if at is not None else None

    return [
        {
            "id": state.vehicle_id,
            "status": state.status,
            "observed_at": local(state.observed_at),
            "unavailable": state.unavailable_at(now),
            "unavailable_until": local(state.unavailable_until),
            "note": state.note,
            "late_minutes": state.late_minutes,
        }
        for state in board.states
    ]


@router.get(
    "/schedule/version",
    response_model=schemas.ScheduleVersion,
    tags=["schedule"],
    responses=UNKNOWN_REGION,
)
def schedule_version(
    _: Dispatcher,
    db: DbDep,
    at: AtRegionWeek,
) -> schemas.ScheduleVersion:
    """A cheap fingerprint of the board: the newest plan and the pins/states of sessions."""
    reg, wk = at.region, at.week
    plan = plans.latest_plan_key(db, reg.id, wk)
    rows = plans.session_marks(db, reg.id, wk)
    digest = hashlib.sha256(repr((plan, rows)).encode())
    return schemas.ScheduleVersion(
        region=reg.id,
        week=wk,
        plan_id=plan[0] if plan else None,
        plan_version=plan[1] if plan else None,
        changed=digest.hexdigest()[:16],
    )


@router.get(
    "/schedule.geojson",
    tags=["schedule"],
    response_model=dict[str, Any],
    responses={**UNKNOWN_REGION, 200: {"content": {"application/geo+json": {}}}},
)
def schedule_geojson(
    _: Dispatcher,
    db: DbDep,
    at: AtRegionWeek,
) -> JSONResponse:
    """Sites (Points) and each vehicle-day route (LineString) of a week as GeoJSON."""
    reg, wk = at.region, at.week
    sessions = plans.sessions_in_force(db, reg.id, wk)
    sites = [
        {"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon, "headcount": s.default_headcount}
        for s in registry.list_sites(db, reg.id)
    ]
    depots = {d.id: (d.lat, d.lon) for d in registry.list_depots(db)}
    vehicle_depot = {v.id: v.depot_id for v in registry.list_vehicles(db, reg.id)}
    doc = geojson_document(sites, depots, vehicle_depot, _feed_sessions(db, sessions))
    return JSONResponse(doc, media_type="application/geo+json")


# --- next stop and visits ------------------------------------------------------------------


@router.get(
    "/vehicles/{vehicle_id}/next-stop",
    response_model=schemas.NextStopPublic,
    tags=["schedule"],
    responses=NOT_YOURS,
)
async def next_stop(services: ServicesDep, token: TokenDep, vehicle_id: str) -> Response:
    """The vehicle's next session not yet ended, with navigation links; 404 when none.

    The hot path of every driver's phone: authentication, the check and one read run in
    one worker-thread call; the body (shaped as ``NextStopPublic``) is serialised once.
    """
    body = await run_in_threadpool(_next_stop, services, token, vehicle_id)
    return Response(body, media_type="application/json")


def _next_stop(services: Services, token: str | None, vehicle_id: str) -> bytes:
    row = read(services.engine, lambda conn: _next_stop_row(services, conn, token, vehicle_id))
    tz = zone(row.timezone)
    links = navigation_links(row.lat, row.lon, row.site_name or row.site_id)
    return to_json(
        {
            "session_id": row.id,
            "vehicle": vehicle_id,
            "site": {
                "id": row.site_id,
                "name": row.site_name,
                "lat": row.lat,
                "lon": row.lon,
                "address": row.address,
            },
            "slot": row.slot,
            "start": row.start.astimezone(tz),
            "end": row.end.astimezone(tz),
            "state": row.state,
            "navigation_url": links.amap,
            "links": {"amap": links.amap, "baidu": links.baidu, "geo": links.geo},
        }
    )


def _next_stop_row(
    services: Services, conn: Connection, token: str | None, vehicle_id: str
) -> plans.NextStop:
    # a read connection, no ORM session: two small reads on the hottest path
    principal = principal_from_token(services, conn, token)
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")
    row = plans.next_stop(conn, vehicle_id, services.clock.now())
    if row is None:
        if not registry.vehicle_exists(conn, vehicle_id):
            raise not_found("vehicle", vehicle_id)
        raise not_found("next stop of vehicle", vehicle_id)
    return row


@router.get(
    "/sites/{site_id}/visits",
    response_model=list[schemas.VisitPublic],
    tags=["schedule"],
    responses=NOT_YOURS,
)
def visits(
    services: ServicesDep, principal: CurrentUser, db: DbDep, site_id: str
) -> list[schemas.VisitPublic]:
    """Upcoming sessions at the site, soonest first."""
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    site = registry.get_site(db, site_id)
    if site is None:
        raise not_found("site", site_id)
    tz = zone_of_region(db, site.region_id)
    now = services.clock.now()
    upcoming = plans.upcoming_site_sessions(db, site_id, now, limit=200)
    late = late_sessions(db, sorted({s.vehicle_id for s in upcoming}), now)
    out = []
    for s in upcoming:
        assert s.id is not None
        out.append(
            schemas.VisitPublic(
                session_id=s.id,
                vehicle=s.vehicle_id,
                site=s.site_id,
                date=s.date,
                slot=s.slot,
                start=s.start.astimezone(tz),
                end=s.end.astimezone(tz),
                state=s.state,
                late_minutes=late.get(s.id),
            )
        )
    return out


# --- calendars -----------------------------------------------------------------------------


def _zone_of(db: DbSession, region_id: str) -> Region:
    region = registry.get_region(db, region_id)
    assert region is not None
    return region


def _calendar(
    services: ServicesDep,
    db: DbSession,
    title: str,
    region_id: str,
    sessions: list[Session],
    lang: str | None,
) -> Response:
    region = _zone_of(db, region_id)
    body = calendar_document(
        title,
        _feed_sessions(db, sessions),
        region_zone(region),
        services.clock.now(),
        "rvrota",
        lang,
    )
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get(
    "/vehicles/{vehicle_id}/calendar.ics",
    tags=["calendars"],
    response_class=Response,
    responses=CALENDAR_RESPONSES,
)
def vehicle_calendar(
    services: ServicesDep, principal: CalendarUser, db: DbDep, lang: FileLanguage, vehicle_id: str
) -> Response:
    """The vehicle's sessions as an iCalendar feed (RFC 5545): from two weeks back, planned
    ones TENTATIVE, confirmed, under way and done ones CONFIRMED, missed and cancelled ones
    (for 7 days after their date) CANCELLED; SEQUENCE rises with every change."""
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")
    vehicle = registry.get_vehicle(db, vehicle_id)
    if vehicle is None:
        raise not_found("vehicle", vehicle_id)
    sessions = plans.feed_sessions(db, services.clock.now(), vehicle_id=vehicle_id)
    title = label("file.feed.vehicle_title", lang, vehicle=vehicle_id)
    return _calendar(services, db, title, vehicle.region_id, sessions, lang)


@router.get(
    "/sites/{site_id}/calendar.ics",
    tags=["calendars"],
    response_class=Response,
    responses=CALENDAR_RESPONSES,
)
def site_calendar(
    services: ServicesDep, principal: CalendarUser, db: DbDep, lang: FileLanguage, site_id: str
) -> Response:
    """The site's visits as an iCalendar feed (as the vehicle's: states and SEQUENCE)."""
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    site = registry.get_site(db, site_id)
    if site is None:
        raise not_found("site", site_id)
    sessions = plans.feed_sessions(db, services.clock.now(), site_id=site_id)
    return _calendar(services, db, f"{site.name or site.id}", site.region_id, sessions, lang)


# --- plans ---------------------------------------------------------------------------------


@router.get(
    "/plans/current",
    response_model=schemas.PlanPublic,
    tags=["plans"],
    responses={404: {"description": "no published plan for that region-week"}},
)
def plan_in_force(
    _: Dispatcher,
    db: DbDep,
    lang: Language,
    at: AtRegionWeek,
) -> schemas.PlanPublic:
    """The plan in force with its stats (objective, bound, gap) and unserved sites (why, in
    the caller's language)."""
    reg, wk = at.region, at.week
    plan = plans.plan_in_force(db, reg.id, wk)
    if plan is None:
        raise not_found("published plan of week", wk)
    return plan_public(db, plan, lang)
