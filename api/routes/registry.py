"""Sites, vehicles and depots: the registry (dispatchers; managers and drivers read their own)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, HTTPException, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import access, schemas
from api.deps import CurrentUser, DbDep, Dispatcher, Services, ServicesDep, forbidden
from api.errors import domain_error
from api.relay import wall_now
from api.store import not_found, site_public, unprocessable, vehicle_public, zone_of_region
from fleet import events, outbox, registry
from fleet.db import DbSession
from fleet.domain import DomainError, Role
from fleet.models import Depot, Site, Vehicle
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
P = TypeVar("P", bound=BaseModel)


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


# --- sites ---------------------------------------------------------------------------------


def _removal(model: type[Any], what: str, retired: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a DELETE that retires what has history and removes what has none."""
    return {
        **NOT_YOURS,
        200: {"model": model, "description": retired},
        204: {"description": f"the {what} had no history and is gone"},
    }


def _removed(changing: Changing, region_id: str, retired: BaseModel | None) -> Response:
    """A DELETE's answer, a re-plan asked for either way: 204 when the object is gone,
    200 with it when it had history and was retired instead."""
    what, ident = changing.label.split(" ", 1)
    state = "retired" if retired is not None else "removed"
    reason = f"{what} {state}: {ident}"
    _ask_replan(changing.services, changing.tasks, changing.db, region_id, reason)
    if retired is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONResponse(jsonable_encoder(retired), status_code=200)


@dataclass(frozen=True)
class Changing:
    """A change of a registry object: where a re-plan is asked for, and which of the
    changed fields matter to the plan."""

    services: Services
    tasks: BackgroundTasks
    db: DbSession
    label: str
    plan_fields: AbstractSet[str]


def _changed(
    changing: Changing,
    show: Callable[[], P],
    change: Callable[[], object],
    region_of: Callable[[], str],
) -> P:
    """Apply ``change`` (a DomainError is a 4xx) and ask for a re-plan of the region when a
    field the plan uses changed; the object as shown after."""
    before = show().model_dump()
    try:
        change()
    except DomainError as exc:
        raise domain_error(exc) from exc
    after = show()
    changed = planned_fields(before, after.model_dump(), changing.plan_fields)
    if changed:
        reason = f"{changing.label}: {', '.join(changed)}"
        _ask_replan(changing.services, changing.tasks, changing.db, region_of(), reason)
    return after


@router.get("/sites", response_model=list[schemas.SitePublic], tags=["sites"])
def list_sites(
    principal: CurrentUser, db: DbDep, region: str | None = None
) -> list[schemas.SitePublic]:
    """Dispatchers: every site (of a region); site managers: their own sites."""
    if principal.is_dispatcher:
        return [site_public(db, s) for s in registry.list_sites(db, region)]
    if principal.role is not Role.SITE_MANAGER:
        raise forbidden("dispatchers and site managers only")
    return [site_public(db, s) for s in registry.list_sites(db, region, sorted(principal.sites))]


@router.post("/sites", response_model=schemas.SitePublic, status_code=201, tags=["sites"])
def create_site(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    body: schemas.SiteCreate,
) -> schemas.SitePublic:
    site = Site(
        id=body.id,
        region_id=body.region,
        default_headcount=body.headcount,
        # the service clock's day in the region (a simulated week's sites wait from then)
        registered_on=services.clock.now().astimezone(zone_of_region(db, body.region)).date(),
        **body.model_dump(exclude={"id", "region", "headcount", "closed_dates"}),
    )
    try:
        registry.add_site(db, site, body.closed_dates)
    except DomainError as exc:
        raise domain_error(exc) from exc
    _ask_replan(services, tasks, db, site.region_id, f"site added: {site.id}")
    return site_public(db, site)


@router.get(
    "/sites/{site_id}", response_model=schemas.SitePublic, tags=["sites"], responses=NOT_YOURS
)
def get_site(principal: CurrentUser, db: DbDep, site_id: str) -> schemas.SitePublic:
    """Dispatchers, and the site's own managers."""
    if not access.may_see_site(principal, site_id):
        raise forbidden("not one of your sites")
    site = registry.get_site(db, site_id)
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
    site = registry.get_site(db, site_id)
    if site is None:
        raise not_found("site", site_id)
    return _changed(
        Changing(services, tasks, db, f"site {site_id}", SITE_PLAN_FIELDS & set(changes)),
        lambda: site_public(db, site),
        lambda: registry.change_site(db, site, changes),
        lambda: site.region_id,
    )


@router.delete(
    "/sites/{site_id}",
    status_code=204,
    tags=["sites"],
    responses=_removal(
        schemas.SitePublic,
        "site",
        "the site has history (sessions, headcounts): retired instead "
        "(active_until set to today), kept for the record",
    ),
    response_class=Response,
)
def delete_site(
    services: ServicesDep, tasks: BackgroundTasks, _: Dispatcher, db: DbDep, site_id: str
) -> Response:
    """Remove a site; a site with history (sessions, headcounts, ...) is retired instead.

    Retiring sets ``active_until`` to today in the site's region, so later weeks are
    planned without it; its sessions and reports stay for the record
    (``fleet.registry.remove_site``). Either way the region's weeks are re-planned.
    """
    try:  # first in the transaction: on SQLite it begins as a writer
        removal = registry.remove_site(db, site_id, services.clock.now())
    except registry.UnknownReference as exc:
        raise not_found("site", site_id) from exc
    retired = site_public(db, removal.retired) if removal.retired is not None else None
    replan = Changing(services, tasks, db, f"site {site_id}", frozenset())
    return _removed(replan, removal.region_id, retired)


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
    vehicle = Vehicle(
        id=body.id,
        depot_id=body.depot,
        region_id=body.region,
        plate=body.plate,
        amenities=body.amenities,
        max_drive_minutes=body.max_drive_minutes,
    )
    try:
        registry.add_vehicle(db, vehicle)
    except DomainError as exc:
        raise domain_error(exc) from exc
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
    vehicle = registry.get_vehicle(db, vehicle_id)
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
    vehicle = registry.get_vehicle(db, vehicle_id)
    if vehicle is None:
        raise not_found("vehicle", vehicle_id)
    fields = VEHICLE_PLAN_FIELDS & set(body.model_fields_set)
    return _changed(
        Changing(services, tasks, db, f"vehicle {vehicle_id}", fields),
        lambda: vehicle_public(vehicle),
        lambda: registry.change_vehicle(db, vehicle, body.model_dump(exclude_unset=True)),
        lambda: vehicle.region_id,
    )


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=204,
    tags=["vehicles"],
    responses=_removal(
        schemas.VehiclePublic,
        "vehicle",
        "the vehicle has history (sessions, reports): retired instead "
        "(retired_at now), out of every slot not yet started, kept for the record",
    ),
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
    retired = vehicle_public(removal.retired) if removal.retired is not None else None
    replan = Changing(services, tasks, db, f"vehicle {vehicle_id}", frozenset())
    return _removed(replan, removal.region_id, retired)


# --- depots --------------------------------------------------------------------------------


def _depot_public(depot: Depot) -> schemas.DepotPublic:
    return schemas.DepotPublic(
        id=depot.id, name=depot.name, lat=depot.lat, lon=depot.lon, region=depot.region_id
    )


@router.get("/depots", response_model=list[schemas.DepotPublic], tags=["depots"])
def list_depots(_: Dispatcher, db: DbDep) -> list[schemas.DepotPublic]:
    return [_depot_public(d) for d in registry.list_depots(db)]


@router.post("/depots", response_model=schemas.DepotPublic, status_code=201, tags=["depots"])
def create_depot(
    services: ServicesDep,
    tasks: BackgroundTasks,
    _: Dispatcher,
    db: DbDep,
    body: schemas.DepotCreate,
) -> schemas.DepotPublic:
    depot = Depot(id=body.id, name=body.name, lat=body.lat, lon=body.lon, region_id=body.region)
    try:
        registry.add_depot(db, depot)
    except DomainError as exc:
        raise domain_error(exc) from exc
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
