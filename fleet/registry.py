"""Registry of regions, depots, sites and vehicles: upserts, look-ups, closures, garage windows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from fleet.db import DbSession, begin_write
from fleet.domain import DomainError
from fleet.models import Depot, Region, Site, SiteClosure, User, Vehicle, VehicleUnavailability

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


def get_depot(db: DbSession, depot_id: str) -> Depot | None:
    return db.get(Depot, depot_id)


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


def list_depots(db: DbSession, region: str | None = None) -> list[Depot]:
    query = select(Depot).order_by(col(Depot.id))
    if region is not None:
        query = query.where(Depot.region_id == region)
    return list(db.exec(query))


def list_sites(db: DbSession, region: str | None = None) -> list[Site]:
    query = select(Site).order_by(col(Site.id))
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
    db: DbSession, site_ids: Sequence[str], first: date, last: date
) -> dict[str, list[date]]:
    """Closed dates per site between first and last (inclusive)."""
    result: dict[str, list[date]] = {}
    if not site_ids:
        return result
    query = (
        select(SiteClosure)
        .where(col(SiteClosure.site_id).in_(list(site_ids)))
        .where(col(SiteClosure.day) >= first)
        .where(col(SiteClosure.day) <= last)
        .order_by(col(SiteClosure.day))
    )
    for closure in db.exec(query):
        result.setdefault(closure.site_id, []).append(closure.day)
    return result


def replace_site_closures(
    db: DbSession, site_id: str, first: date, last: date, days: Iterable[date]
) -> None:
    """Make the site's closed dates between first and last exactly ``days``."""
    wanted = set(days)
    for closure in db.exec(
        select(SiteClosure)
        .where(SiteClosure.site_id == site_id)
        .where(col(SiteClosure.day) >= first)
        .where(col(SiteClosure.day) <= last)
    ):
        if closure.day in wanted:
            wanted.discard(closure.day)
        else:
            db.delete(closure)
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
