"""Sites, vehicles and depots: the registry (dispatchers; managers and drivers read their own)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api import access, schemas
from api.deps import CurrentUser, DbDep, Dispatcher, ServicesDep, forbidden
from api.relay import wall_now
from api.store import (
    not_found,
    set_closed_dates,
    site_public,
    unprocessable,
    vehicle_public,
    zone_of_region,
)
from fleet import events, outbox, registry
from fleet.db import DbSession, begin_write
from fleet.domain import Role
from fleet.models import Depot, Region, Site, UserSite, Vehicle
from fleet.replan import (
    SITE_PLAN_FIELDS,
    VEHICLE_PLAN_FIELDS,
    planned_fields,
    registry_plan_requests,
)

log = logging.getLogger(__name__)
router = APIRouter()
NOT_YOURS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not bound to this object"},
    404: {"description": "not found"},
}


# Optional in an update, but a value when given (null would break the site's rules).
NOT_NULL_SITE_FIELDS = frozenset(
    {
        "lat",
        "lon",
        "headcount",
        "parking_capacity",
        "min_gap_days",
        "min_visits",
        "closed_weekdays",
        "closed_dates",
        "needs",
    }
)


def _ask_replan(
    services: ServicesDep,
    tasks: BackgroundTasks,
    db: DbSession,
    region_id: str | None,
    reason: str,
) -> None:
    """Re-plan the region's weeks: the asks go into the outbox in this change's transaction.

    So a change answered 200 asks for its re-plans exactly once, broker up or down; the
    relay is woken once the answer has gone.
    """
    requests = registry_plan_requests(db, region_id, services.clock.now(), reason)
    if not requests:
        return
    messages = []
    for request in requests:
        value = json.loads(request.to_bytes())
        value["event_id"] = request.cause_event_id
        messages.append(
            outbox.Message(
                events.PLAN_REQUESTS_TOPIC,
                request.region,
                json.dumps(value).encode(),
                f"{request.cause_event_id}:{request.week}",
            )
        )
        log.info("plan requested: %s %s (%s)", request.region, request.week, request.reason)
    outbox.enqueue(db, messages, wall_now())
    tasks.add_task(services.relay.notify)


def _need_region(db: DbDep, region_id: str) -> None:
    if db.get(Region, region_id) is None:
        raise unprocessable("region", f"unknown region {region_id!r}", "body")


# --- sites ---------------------------------------------------------------------------------


@router.get("/sites", response_model=list[schemas.SitePublic], tags=["sites"])
def list_sites(
    principal: CurrentUser, db: DbDep, region: str | None = None
) -> list[schemas.SitePublic]:
    """Dispatchers: every site (of a region); site managers: their own sites."""
    if principal.is_dispatcher:
        return [site_public(db, s) for s in registry.list_sites(db, region)]
    if principal.role is not Role.SITE_MANAGER:
        raise forbidden("dispatchers and site managers only")
    query = select(Site).where(col(Site.id).in_(sorted(principal.sites))).order_by(col(Site.id))
    if region is not None:
        query = query.where(Site.region_id == region)
    return [site_public(db, s) for s in db.exec(query).all()]


@router.post("/sites", response_model=schemas.SitePublic, status_code=201, tags=["sites"])
def create_site(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    body: schemas.SiteCreate,
) -> schemas.SitePublic:
    if db.get(Site, body.id) is not None or db.get(Depot, body.id) is not None:
        raise unprocessable("id", f"{body.id!r} is taken", "body")
    _need_region(db, body.region)
    site = Site(
        id=body.id,
        region_id=body.region,
        default_headcount=body.headcount,
        # the service clock's day in the region (a simulated week's sites wait from then)
        registered_on=services.clock.now().astimezone(zone_of_region(db, body.region)).date(),
        **body.model_dump(exclude={"id", "region", "headcount", "closed_dates"}),
    )
    db.add(site)
    db.flush()
    set_closed_dates(db, site.id, body.closed_dates)
    db.flush()
    _ask_replan(services, tasks, db, site.region_id, f"site added: {site.id}")
    return site_public(db, site)


@router.get(
    "/sites/{site_id}", response_model=schemas.SitePublic, tags=["sites"], responses=NOT_YOURS
)
def get_site(principal: CurrentUser, db: DbDep, site_id: str) -> schemas.SitePublic:
    """Dispatchers, and the site's own managers."""
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    site = db.get(Site, site_id)
    if site is None:
        raise not_found("site", site_id)
    return site_public(db, site)


@router.patch(
    "/sites/{site_id}", response_model=schemas.SitePublic, tags=["sites"], responses=NOT_YOURS
)
def update_site(
    services: ServicesDep,
    tasks: BackgroundTasks,
    principal: CurrentUser,
    db: DbDep,
    site_id: str,
    body: schemas.SiteUpdate,
) -> schemas.SitePublic:
    """Dispatchers change anything; a site's managers only closed days, parking, needs, contact."""
    changes = body.model_dump(exclude_unset=True)
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    if not access.may_update_site(principal, site_id, changes):
        others = sorted(set(changes) - access.MANAGER_SITE_FIELDS)
        raise forbidden(f"site managers may not change: {', '.join(others)}")
    site = db.get(Site, site_id)
    if site is None:
        raise not_found("site", site_id)
    before = site_public(db, site).model_dump()
    for name, value in changes.items():
        if value is None and name in NOT_NULL_SITE_FIELDS:
            raise unprocessable(name, "may not be null", "body")
        if name == "closed_dates":
            set_closed_dates(db, site_id, value)
        elif name == "headcount":
            site.default_headcount = value
        else:
            setattr(site, name, value)
    db.add(site)
    db.flush()
    after = site_public(db, site)
    changed = planned_fields(before, after.model_dump(), SITE_PLAN_FIELDS & set(changes))
    if changed:
        _ask_replan(services, tasks, db, site.region_id, f"site {site_id}: {', '.join(changed)}")
    return after


@router.delete(
    "/sites/{site_id}",
    status_code=204,
    tags=["sites"],
    responses={
        **NOT_YOURS,
        200: {
            "model": schemas.SitePublic,
            "description": "the site has history (sessions, headcounts): retired instead "
            "(active_until set to today), kept for the record",
        },
        204: {"description": "the site had no history and is gone"},
    },
    response_class=Response,
)
def delete_site(
    services: ServicesDep, tasks: BackgroundTasks, _: Dispatcher, db: DbDep, site_id: str
) -> Response:
    """Remove a site; a site with history (sessions, headcounts, ...) is retired instead.

    Retiring sets ``active_until`` to today in the site's region, so later weeks are
    planned without it; its sessions and reports stay for the record. Either way the
    region's weeks are re-planned.
    """
    # SQLite: the savepoint below would begin a reader that cannot write once the outbox
    # relay (or anyone) has committed meanwhile; begin as the writer it will be
    begin_write(db)
    site = db.get(Site, site_id)
    if site is None:
        raise not_found("site", site_id)
    region_id = site.region_id
    try:
        with db.begin_nested():  # whatever still points at the site undoes this and retires it
            for link in db.exec(select(UserSite).where(UserSite.site_id == site_id)).all():
                db.delete(link)
            set_closed_dates(db, site_id, [])
            db.delete(site)
            db.flush()
    except IntegrityError:
        site = db.get(Site, site_id)
        assert site is not None
        today = services.clock.now().astimezone(zone_of_region(db, site.region_id)).date()
        if site.active_until is None or site.active_until > today:
            site.active_until = today
            db.add(site)
            db.flush()
        _ask_replan(services, tasks, db, region_id, f"site retired: {site_id}")
        return JSONResponse(jsonable_encoder(site_public(db, site)), status_code=200)
    _ask_replan(services, tasks, db, region_id, f"site removed: {site_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- vehicles ------------------------------------------------------------------------------


@router.get("/vehicles", response_model=list[schemas.VehiclePublic], tags=["vehicles"])
def list_vehicles(
    _: Dispatcher, db: DbDep, region: str | None = None
) -> list[schemas.VehiclePublic]:
    return [vehicle_public(v) for v in registry.list_vehicles(db, region)]


@router.post("/vehicles", response_model=schemas.VehiclePublic, status_code=201, tags=["vehicles"])
def create_vehicle(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    body: schemas.VehicleCreate,
) -> schemas.VehiclePublic:
    if db.get(Vehicle, body.id) is not None:
        raise unprocessable("id", f"{body.id!r} is taken", "body")
    _need_region(db, body.region)
    if db.get(Depot, body.depot) is None:
        raise unprocessable("depot", f"unknown depot {body.depot!r}", "body")
    vehicle = Vehicle(
        id=body.id,
        depot_id=body.depot,
        region_id=body.region,
        plate=body.plate,
        amenities=body.amenities,
        max_drive_minutes=body.max_drive_minutes,
    )
    db.add(vehicle)
    db.flush()
    _ask_replan(services, tasks, db, vehicle.region_id, f"vehicle added: {vehicle.id}")
    return vehicle_public(vehicle)


@router.get(
    "/vehicles/{vehicle_id}",
    response_model=schemas.VehiclePublic,
    tags=["vehicles"],
    responses=NOT_YOURS,
)
def get_vehicle(principal: CurrentUser, db: DbDep, vehicle_id: str) -> schemas.VehiclePublic:
    """Dispatchers, and the vehicle's own driver."""
    if not access.may_see_vehicle(principal, vehicle_id):
        raise forbidden("not your vehicle")
    vehicle = db.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise not_found("vehicle", vehicle_id)
    return vehicle_public(vehicle)


@router.patch(
    "/vehicles/{vehicle_id}",
    response_model=schemas.VehiclePublic,
    tags=["vehicles"],
    responses=NOT_YOURS,
)
def update_vehicle(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    vehicle_id: str,
    body: schemas.VehicleUpdate,
) -> schemas.VehiclePublic:
    vehicle = db.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise not_found("vehicle", vehicle_id)
    changes = body.model_dump(exclude_unset=True)
    before = vehicle_public(vehicle).model_dump()
    if "depot" in changes:
        if changes["depot"] is None or db.get(Depot, changes["depot"]) is None:
            raise unprocessable("depot", f"unknown depot {changes['depot']!r}", "body")
        vehicle.depot_id = changes.pop("depot")
    if "amenities" in changes and changes["amenities"] is None:
        raise unprocessable("amenities", "may not be null", "body")
    for name, value in changes.items():
        setattr(vehicle, name, value)
    db.add(vehicle)
    db.flush()
    after = vehicle_public(vehicle)
    changed = planned_fields(
        before, after.model_dump(), VEHICLE_PLAN_FIELDS & set(body.model_fields_set)
    )
    if changed:
        _ask_replan(
            services, tasks, db, vehicle.region_id, f"vehicle {vehicle_id}: {', '.join(changed)}"
        )
    return after


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=204,
    tags=["vehicles"],
    responses={
        **NOT_YOURS,
        200: {
            "model": schemas.VehiclePublic,
            "description": "the vehicle has history (sessions, reports): retired instead "
            "(retired_at now), out of every slot not yet started, kept for the record",
        },
        204: {"description": "the vehicle had no history and is gone"},
    },
    response_class=Response,
)
def delete_vehicle(
    services: ServicesDep, tasks: BackgroundTasks, _: Dispatcher, db: DbDep, vehicle_id: str
) -> Response:
    """Remove a vehicle; one with history is retired instead. Either way its region's
    weeks are re-planned (its sessions not yet started are cancelled, drivers and sites
    told)."""
    try:
        removal = registry.remove_vehicle(db, vehicle_id, services.clock.now())
    except registry.UnknownReference as exc:
        raise not_found("vehicle", vehicle_id) from exc
    region_id, kept = removal.region_id, removal.retired
    if kept is None:
        _ask_replan(services, tasks, db, region_id, f"vehicle removed: {vehicle_id}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    _ask_replan(services, tasks, db, region_id, f"vehicle retired: {vehicle_id}")
    return JSONResponse(jsonable_encoder(vehicle_public(kept)), status_code=200)


# --- depots --------------------------------------------------------------------------------


def _depot_public(depot: Depot) -> schemas.DepotPublic:
    return schemas.DepotPublic(
        id=depot.id, name=depot.name, lat=depot.lat, lon=depot.lon, region=depot.region_id
    )


@router.get("/depots", response_model=list[schemas.DepotPublic], tags=["depots"])
def list_depots(_: Dispatcher, db: DbDep) -> list[schemas.DepotPublic]:
    return [_depot_public(d) for d in db.exec(select(Depot).order_by(col(Depot.id))).all()]


@router.post("/depots", response_model=schemas.DepotPublic, status_code=201, tags=["depots"])
def create_depot(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    body: schemas.DepotCreate,
) -> schemas.DepotPublic:
    if db.get(Depot, body.id) is not None or db.get(Site, body.id) is not None:
        raise unprocessable("id", f"{body.id!r} is taken", "body")
    _need_region(db, body.region)
    depot = Depot(id=body.id, name=body.name, lat=body.lat, lon=body.lon, region_id=body.region)
    db.add(depot)
    db.flush()
    _ask_replan(services, tasks, db, depot.region_id, f"depot added: {depot.id}")
    return _depot_public(depot)


@router.patch(
    "/depots/{depot_id}", response_model=schemas.DepotPublic, tags=["depots"], responses=NOT_YOURS
)
def update_depot(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    depot_id: str,
    body: schemas.DepotUpdate,
) -> schemas.DepotPublic:
    """Rename or move a depot; a move re-plans the weeks of every region it serves."""
    depot = db.get(Depot, depot_id)
    if depot is None:
        raise not_found("depot", depot_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("lat", "lon"):
        if name in changes and changes[name] is None:
            raise unprocessable(name, "may not be null", "body")
    moved = any(
        name in changes and changes[name] != getattr(depot, name) for name in ("lat", "lon")
    )
    for name, value in changes.items():
        setattr(depot, name, value)
    db.add(depot)
    db.flush()
    if moved:
        for region_id in registry.depot_regions(db, depot):
            _ask_replan(services, tasks, db, region_id, f"depot {depot_id}: lat, lon")
    return _depot_public(depot)


@router.delete(
    "/depots/{depot_id}",
    status_code=204,
    tags=["depots"],
    responses={**NOT_YOURS, 409: {"description": "vehicles still start from the depot"}},
    response_class=Response,
)
def delete_depot(_: Dispatcher, db: DbDep, depot_id: str) -> Response:
    """Remove a depot that no vehicle starts from (409 naming the vehicles otherwise)."""
    if db.get(Depot, depot_id) is None:
        raise not_found("depot", depot_id)
    try:
        registry.remove_depot(db, depot_id)
    except registry.DepotInUse as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
