"""Registry of regions, depots, sites and vehicles: upserts, look-ups, closures, garage windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from fleet.db import Connection, DbSession, begin_write
from fleet.domain import DomainError, zone
from fleet.models import (
    Depot,
    Region,
    Site,
    SiteClosure,
    User,
    UserSite,
    Vehicle,
    VehicleUnavailability,
)

T = TypeVar("T", bound=SQLModel)

# Live state of a vehicle that an upsert of its registry entry must not overwrite.
VEHICLE_LIVE_FIELDS = frozenset(
    {
        "status",
        "status_observed_at",
        "status_event_id",
        "lat",
        "lon",
        "unavailable_from",
        "unavailable_until",
    }
)


class UnknownReference(DomainError):
    """A referenced region, depot, site, vehicle or user does not exist."""


class AmbiguousRegion(DomainError):
    """No region was named, and several exist, none of them called ``default``."""


def _upsert(db: DbSession, obj: T, keep: frozenset[str] = frozenset()) -> T:
    """Insert ``obj``, or copy the fields it was given (except ``keep``) onto the stored row.

    Fields not passed when ``obj`` was constructed keep their stored values, so an import
    that knows nothing of a vehicle's plate leaves the plate alone.
    """
    model = type(obj)
    key = getattr(obj, "id")  # noqa: B009
    existing = db.get(model, key)
    if existing is None:
        db.add(obj)
        db.flush()
        return obj
    for name in obj.model_fields_set:
        if name == "id" or name in keep:
            continue
        setattr(existing, name, getattr(obj, name))
    db.add(existing)
    db.flush()
    return existing


def upsert_region(db: DbSession, region: Region) -> Region:
    return _upsert(db, region)


def upsert_depot(db: DbSession, depot: Depot) -> Depot:
    return _upsert(db, depot)


def upsert_site(db: DbSession, site: Site) -> Site:
    return _upsert(db, site)


def upsert_vehicle(db: DbSession, vehicle: Vehicle) -> Vehicle:
    """Insert or update an RV's registry entry; its live status is left as reported."""
    return _upsert(db, vehicle, keep=VEHICLE_LIVE_FIELDS)


def require(db: DbSession, model: type[T], key: object, what: str) -> T:
    """The row of ``model`` with primary key ``key``, or UnknownReference naming it."""
    obj = db.get(model, key)
    if obj is None:
        raise UnknownReference(f"{what}: no {what} {key!r}")
    return obj


def get_region(db: DbSession, region_id: str) -> Region | None:
    return db.get(Region, region_id)


def get_site(db: DbSession, site_id: str) -> Site | None:
    return db.get(Site, site_id)


def get_vehicle(db: DbSession, vehicle_id: str) -> Vehicle | None:
    return db.get(Vehicle, vehicle_id)


def vehicle_exists(db: DbSession | Connection, vehicle_id: str) -> bool:
    """Is there a vehicle ``vehicle_id`` (one small read, also on a plain connection)?"""
    query = select(Vehicle.id).where(Vehicle.id == vehicle_id)
    return db.execute(query).first() is not None


def get_depot(db: DbSession, depot_id: str) -> Depot | None:
    return db.get(Depot, depot_id)


def default_region(db: DbSession) -> Region | None:
    """The region meant when none is named: the only one, else the one called ``default``;
    None when there is no region. Raises AmbiguousRegion when several exist but no
    ``default``."""
    regions = db.exec(select(Region).order_by(col(Region.id)).limit(2)).all()
    if len(regions) == 1:
        return regions[0]
    default = db.get(Region, "default")
    if default is not None:
        return default
    if regions:
        raise AmbiguousRegion("region: several regions exist: name one")
    return None


def list_regions(db: DbSession, ids: Sequence[str] | None = None) -> list[Region]:
    """Every region (or those of ``ids``), by id."""
    query = select(Region).order_by(col(Region.id))
    if ids is not None:
        query = query.where(col(Region.id).in_(list(ids)))
    return list(db.exec(query))


def site_regions(db: DbSession, site_ids: Sequence[str]) -> dict[str, str]:
    """The region of each site of ``site_ids`` that exists (unknown ids are left out)."""
    if not site_ids:
        return {}
    query = select(Site.id, Site.region_id).where(col(Site.id).in_(list(site_ids)))
    return {str(site): str(region) for site, region in db.exec(query)}


def sites_by_id(db: DbSession, site_ids: Sequence[str]) -> dict[str, Site]:
    """The sites of ``site_ids`` that exist, by id."""
    if not site_ids:
        return {}
    return {s.id: s for s in db.exec(select(Site).where(col(Site.id).in_(list(site_ids))))}


def site_names_in_region(db: DbSession, region_id: str) -> dict[str, str]:
    """Each site of a region by id with its name (its id when it has none): the words of
    the region's texts."""
    rows = db.exec(select(Site.id, Site.name).where(Site.region_id == region_id)).all()
    return {sid: name or sid for sid, name in rows}


def list_depots(db: DbSession, region: str | None = None) -> list[Depot]:
    query = select(Depot).order_by(col(Depot.id))
    if region is not None:
        query = query.where(Depot.region_id == region)
    return list(db.exec(query))


def list_sites(
    db: DbSession, region: str | None = None, ids: Sequence[str] | None = None
) -> list[Site]:
    """Every site (of a region; among ``ids``), by id."""
    query = select(Site).order_by(col(Site.id))
    if ids is not None:
        query = query.where(col(Site.id).in_(list(ids)))
    if region is not None:
        query = query.where(Site.region_id == region)
    return list(db.exec(query))


def list_vehicles(db: DbSession, region: str | None = None) -> list[Vehicle]:
    query = select(Vehicle).order_by(col(Vehicle.id))
    if region is not None:
        query = query.where(Vehicle.region_id == region)
    return list(db.exec(query))


# --- dated closures and planned windows out of service --------------------------------------


def site_closures(
    db: DbSession, site_ids: Sequence[str], first: date | None, last: date | None
) -> dict[str, list[date]]:
    """Closed dates per site between first and last (inclusive; None: unbounded), in order."""
    result: dict[str, list[date]] = {}
    if not site_ids:
        return result
    query = select(SiteClosure).where(col(SiteClosure.site_id).in_(list(site_ids)))
    if first is not None:
        query = query.where(col(SiteClosure.day) >= first)
    if last is not None:
        query = query.where(col(SiteClosure.day) <= last)
    for closure in db.exec(query.order_by(col(SiteClosure.day))):
        result.setdefault(closure.site_id, []).append(closure.day)
    return result


def replace_site_closures(
    db: DbSession,
    site_id: str,
    first: date | None,
    last: date | None,
    days: Iterable[date],
) -> None:
    """Make the site's closed dates between first and last (inclusive; None: unbounded)
    exactly ``days``."""
    wanted = set(days)
    query = select(SiteClosure).where(SiteClosure.site_id == site_id)
    if first is not None:
        query = query.where(col(SiteClosure.day) >= first)
    if last is not None:
        query = query.where(col(SiteClosure.day) <= last)
    for closure in db.exec(query):
        if closure.day in wanted:
            wanted.discard(closure.day)
        else:
            db.delete(closure)
    db.flush()
    for day in sorted(wanted):
        db.add(SiteClosure(site_id=site_id, day=day))
    db.flush()


def planned_unavailability(
    db: DbSession, vehicle_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[VehicleUnavailability]]:
    """Planned windows out of service per vehicle that overlap start..end."""
    result: dict[str, list[VehicleUnavailability]] = {}
    if not vehicle_ids:
        return result
    query = (
        select(VehicleUnavailability)
        .where(col(VehicleUnavailability.vehicle_id).in_(list(vehicle_ids)))
        .where(col(VehicleUnavailability.start) < end)
        .where(col(VehicleUnavailability.end) > start)
        .order_by(col(VehicleUnavailability.start))
    )
    for window in db.exec(query):
        result.setdefault(window.vehicle_id, []).append(window)
    return result


def add_planned_unavailability(
    db: DbSession, vehicle_id: str, start: datetime, end: datetime, reason: str | None = None
) -> bool:
    """Keep one planned window out of service; True when new, False (and no effect) when
    the vehicle already has that very window (the use case is idempotent)."""
    if end <= start:
        raise DomainError(f"unavailable: window {start.isoformat()}..{end.isoformat()} is empty")
    if db.get(Vehicle, vehicle_id) is None:
        raise UnknownReference(f"vehicle_id: no vehicle {vehicle_id!r}")
    exists = db.exec(
        select(VehicleUnavailability.id).where(
            VehicleUnavailability.vehicle_id == vehicle_id,
            VehicleUnavailability.start == start,
            VehicleUnavailability.end == end,
        )
    ).first()
    if exists is not None:
        return False
    db.add(VehicleUnavailability(vehicle_id=vehicle_id, start=start, end=end, reason=reason))
    db.flush()
    return True


def replace_planned_unavailability(
    db: DbSession,
    vehicle_id: str,
    start: datetime,
    end: datetime,
    windows: Iterable[tuple[datetime, datetime]],
    reason: str | None = None,
) -> None:
    """Make the vehicle's planned windows that lie within start..end exactly ``windows``."""
    wanted = {(a, b) for a, b in windows}
    for window in db.exec(
        select(VehicleUnavailability)
        .where(VehicleUnavailability.vehicle_id == vehicle_id)
        .where(col(VehicleUnavailability.start) >= start)
        .where(col(VehicleUnavailability.end) <= end)
    ):
        key = (window.start, window.end)
        if key in wanted:
            wanted.discard(key)
        else:
            db.delete(window)
    db.flush()
    for a, b in sorted(wanted):
        if b <= a:
            raise DomainError(f"unavailable: window {a.isoformat()}..{b.isoformat()} is empty")
        db.add(VehicleUnavailability(vehicle_id=vehicle_id, start=a, end=b, reason=reason))
    db.flush()


# --- use cases of the registry API: add, change and remove sites, vehicles and depots -------

# Optional in a site's update, but a value when given (null would break the site's rules).
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


def _need_region(db: DbSession, region_id: str | None) -> None:
    if region_id is None or db.get(Region, region_id) is None:
        raise UnknownReference(f"region: unknown region {region_id!r}")


def _need_free_place_id(db: DbSession, place_id: str) -> None:
    """Sites and depots share one name space (a route's stops name either)."""
    if db.get(Site, place_id) is not None or db.get(Depot, place_id) is not None:
        raise DomainError(f"id: {place_id!r} is taken")


def add_site(db: DbSession, site: Site, closed_dates: Iterable[date] = ()) -> Site:
    """Register a new site in an existing region, with its closed dates."""
    _need_free_place_id(db, site.id)
    _need_region(db, site.region_id)
    db.add(site)
    db.flush()
    replace_site_closures(db, site.id, None, None, closed_dates)
    return site


def change_site(db: DbSession, site: Site, changes: Mapping[str, Any]) -> Site:
    """Apply an update of the API's site fields (``headcount`` is the default headcount,
    ``closed_dates`` every closed date); a field of NOT_NULL_SITE_FIELDS may not be None."""
    for name, value in changes.items():
        if value is None and name in NOT_NULL_SITE_FIELDS:
            raise DomainError(f"{name}: may not be null")
    for name, value in changes.items():
        if name == "closed_dates":
            replace_site_closures(db, site.id, None, None, value)
        elif name == "headcount":
            site.default_headcount = value
        else:
            setattr(site, name, value)
    db.add(site)
    db.flush()
    return site


@dataclass(frozen=True)
class SiteRemoval:
    """What became of a site asked to go: gone, or retired (``retired``, kept for its
    history) because something still points at it."""

    region_id: str
    retired: Site | None


def remove_site(db: DbSession, site_id: str, now: datetime) -> SiteRemoval:
    """Remove a site with its managers' bindings and closed dates; a site with history
    (sessions, headcounts, anything else that points at it) is retired instead:
    ``active_until`` becomes today in its region (if not already earlier), so later weeks
    are planned without it while its sessions and reports stay for the record.

    Call it first in its transaction: on SQLite it begins the transaction as a writer
    (``begin_write``), since the savepoint it takes would otherwise begin a reader that
    cannot write once another writer (the outbox relay) has committed meanwhile.
    """
    begin_write(db)
    site = require(db, Site, site_id, "site")
    region_id = site.region_id
    try:
        with db.begin_nested():  # whatever still points at the site undoes this
            for link in db.exec(select(UserSite).where(UserSite.site_id == site_id)).all():
                db.delete(link)
            replace_site_closures(db, site_id, None, None, [])
            db.delete(site)
            db.flush()
    except IntegrityError:
        site = require(db, Site, site_id, "site")
        region = db.get(Region, site.region_id)
        tz = zone(region.timezone) if region is not None else ZoneInfo("UTC")
        today = now.astimezone(tz).date()
        if site.active_until is None or site.active_until > today:
            site.active_until = today
            db.add(site)
            db.flush()
        return SiteRemoval(region_id, site)
    return SiteRemoval(region_id, None)


def add_vehicle(db: DbSession, vehicle: Vehicle) -> Vehicle:
    """Register a new RV in an existing region, at an existing depot."""
    if db.get(Vehicle, vehicle.id) is not None:
        raise DomainError(f"id: {vehicle.id!r} is taken")
    _need_region(db, vehicle.region_id)
    if db.get(Depot, vehicle.depot_id) is None:
        raise UnknownReference(f"depot: unknown depot {vehicle.depot_id!r}")
    db.add(vehicle)
    db.flush()
    return vehicle


def change_vehicle(db: DbSession, vehicle: Vehicle, changes: Mapping[str, Any]) -> Vehicle:
    """Apply an update of the API's vehicle fields (``depot`` must exist, ``amenities`` may
    not be None)."""
    rest = dict(changes)
    if "depot" in rest:
        depot = rest.pop("depot")
        if depot is None or db.get(Depot, depot) is None:
            raise UnknownReference(f"depot: unknown depot {depot!r}")
        vehicle.depot_id = depot
    if "amenities" in rest and rest["amenities"] is None:
        raise DomainError("amenities: may not be null")
    for name, value in rest.items():
        setattr(vehicle, name, value)
    db.add(vehicle)
    db.flush()
    return vehicle


def add_depot(db: DbSession, depot: Depot) -> Depot:
    """Register a new depot in an existing region."""
    _need_free_place_id(db, depot.id)
    _need_region(db, depot.region_id)
    db.add(depot)
    db.flush()
    return depot


# --- retiring vehicles, editing depots ---------------------------------------------------


class DepotInUse(DomainError):
    """A depot that vehicles still start from cannot be removed."""


@dataclass(frozen=True)
class VehicleRemoval:
    """What removing a vehicle did: deleted (``retired`` None) or retired, in its region."""

    region_id: str
    retired: Vehicle | None


def remove_vehicle(db: DbSession, vehicle_id: str, now: datetime) -> VehicleRemoval:
    """Delete a vehicle that has no history, or retire one that has (its sessions,
    reports and garage windows stay for the record): from ``now`` it is out of every slot
    not yet started, and of every later week. Drivers bound to a deleted vehicle are
    unbound. Raises UnknownReference for an unknown vehicle."""
    begin_write(db)  # SQLite: the savepoint below must begin as a writer
    region_id = require(db, Vehicle, vehicle_id, "vehicle").region_id
    try:
        with db.begin_nested():  # whatever still points at the vehicle undoes this
            for user in db.exec(select(User).where(User.vehicle_id == vehicle_id)).all():
                user.vehicle_id = None
                user.token_version += 1  # a rebind: tokens naming the vehicle end
                db.add(user)
            db.flush()
            vehicle = db.get(Vehicle, vehicle_id)
            db.delete(vehicle)
            db.flush()
        return VehicleRemoval(region_id, None)
    except IntegrityError:
        pass
    kept = require(db, Vehicle, vehicle_id, "vehicle")
    if kept.retired_at is None or kept.retired_at > now:
        kept.retired_at = now
        db.add(kept)
        db.flush()
    return VehicleRemoval(region_id, kept)


def depot_vehicles(db: DbSession, depot_id: str) -> list[Vehicle]:
    """The vehicles (retired ones too) whose depot is ``depot_id``."""
    return list(db.exec(select(Vehicle).where(Vehicle.depot_id == depot_id)).all())


def depot_regions(db: DbSession, depot: Depot) -> list[str]:
    """The regions whose plans a change of ``depot`` touches: its own and its vehicles'."""
    regions = {v.region_id for v in depot_vehicles(db, depot.id)}
    if depot.region_id is not None:
        regions.add(depot.region_id)
    return sorted(regions)


def remove_depot(db: DbSession, depot_id: str) -> Depot:
    """Delete a depot no vehicle starts from; the deleted row. Raises DepotInUse naming
    the vehicles that still do, UnknownReference for an unknown depot."""
    depot = require(db, Depot, depot_id, "depot")
    users = depot_vehicles(db, depot_id)
    if users:
        names = ", ".join(sorted(v.id for v in users))
        raise DepotInUse(f"depot: {depot_id} is the depot of {names}; move them first")
    db.delete(depot)
    db.flush()
    return depot
