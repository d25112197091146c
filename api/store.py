"""Reads and small writes the routes need, over fleet's tables.

Kept apart from the routes so that they only parse, authorise and answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, status
from sqlalchemy import bindparam
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from api import schemas
from fleet import plan_history, plans
from fleet.cause_words import cause_text
from fleet.db import DbSession
from fleet.domain import DomainError, SlotWindow, parse_iso_week, week_of, week_start, zone
from fleet.messages import Week
from fleet.models import Plan, Region, Session, Site, SiteClosure, User, UserSite, Vehicle
from fleet.reason_words import reason_text


def not_found(what: str, ident: object) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} {ident!r} not found")


def unprocessable(field: str, message: str, where: str = "query") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


# --- regions and weeks ---------------------------------------------------------------------


def region_or_default(db: DbSession, region_id: str | None) -> Region:
    """The named region; without a name, the only region or the one called ``default``."""
    if region_id is not None:
        region = db.get(Region, region_id)
        if region is None:
            raise not_found("region", region_id)
        return region
    regions = db.exec(select(Region).order_by(col(Region.id)).limit(2)).all()
    if len(regions) == 1:
        return regions[0]
    default = db.get(Region, "default")
    if default is not None:
        return default
    if not regions:
        raise not_found("region", "default")
    raise unprocessable("region", "several regions exist: name one")


def region_zone(region: Region) -> ZoneInfo:
    return zone(region.timezone)


def zone_of_region(db: DbSession, region_id: str) -> ZoneInfo:
    region = db.get(Region, region_id)
    return zone(region.timezone) if region is not None else ZoneInfo("UTC")


def region_slots(region: Region) -> list[SlotWindow]:
    return [SlotWindow.from_json(s) for s in region.slots]


def week_or_current(region: Region, week: str | None, now: datetime) -> str:
    if week is None:
        return week_of(now.astimezone(region_zone(region)).date(), region.week_start_weekday)
    try:
        parse_iso_week(week)
        week_start(week, region.week_start_weekday) + timedelta(days=region.days)
    except DomainError as exc:
        raise unprocessable("week", str(exc)) from exc
    except (ValueError, OverflowError) as exc:
        raise unprocessable("week", f"{week!r} is not a week of the calendar") from exc
    return week


# --- sites ---------------------------------------------------------------------------------


def closed_dates(db: DbSession, site_id: str) -> list[date]:
    rows = db.exec(
        select(SiteClosure).where(SiteClosure.site_id == site_id).order_by(col(SiteClosure.day))
    ).all()
    return [r.day for r in rows]


def site_public(db: DbSession, site: Site) -> schemas.SitePublic:
    return schemas.SitePublic(
        id=site.id,
        region=site.region_id,
        name=site.name,
        address=site.address,
        lat=site.lat,
        lon=site.lon,
        headcount=site.default_headcount,
        slots=site.slots,
        closed_weekdays=list(site.closed_weekdays),
        closed_dates=closed_dates(db, site.id),
        parking_capacity=site.parking_capacity,
        min_gap_days=site.min_gap_days,
        min_visits=site.min_visits,
        needs=list(site.needs),
        active_from=site.active_from,
        active_until=site.active_until,
        contact=site.contact,
    )


def set_closed_dates(db: DbSession, site_id: str, days: Sequence[date]) -> None:
    for closure in db.exec(select(SiteClosure).where(SiteClosure.site_id == site_id)).all():
        db.delete(closure)
    db.flush()
    for day in sorted(set(days)):
        db.add(SiteClosure(site_id=site_id, day=day))


def vehicle_public(vehicle: Vehicle) -> schemas.VehiclePublic:
    return schemas.VehiclePublic(
        id=vehicle.id,
        region=vehicle.region_id,
        depot=vehicle.depot_id,
        plate=vehicle.plate,
        amenities=list(vehicle.amenities),
        max_drive_minutes=vehicle.max_drive_minutes,
        status=vehicle.status,
        status_observed_at=vehicle.status_observed_at,
        lat=vehicle.lat,
        lon=vehicle.lon,
        unavailable_until=vehicle.unavailable_until,
    )


# --- users ---------------------------------------------------------------------------------


def user_public(db: DbSession, user: User) -> schemas.UserPublic:
    assert user.id is not None
    sites = db.exec(
        select(UserSite.site_id).where(UserSite.user_id == user.id).order_by(UserSite.site_id)
    ).all()
    return schemas.UserPublic(
        id=user.id,
        name=user.name,
        role=user.role,  # type: ignore[arg-type]
        disabled=user.disabled,
        sites=list(sites),
        vehicle=user.vehicle_id,
    )


# --- sessions and plans --------------------------------------------------------------------


def session_public(
    session: Session, site_name: str | None, tz: ZoneInfo | None = None
) -> schemas.SessionPublic:
    """A session for the API; times in the region's zone when ``tz`` is given."""
    assert session.id is not None
    start, end = session.start, session.end
    if tz is not None:
        start, end = start.astimezone(tz), end.astimezone(tz)
    return schemas.SessionPublic(
        id=session.id,
        region=session.region_id,
        week=session.week,
        vehicle=session.vehicle_id,
        site=session.site_id,
        site_name=site_name,
        day=session.day,
        date=session.date,
        slot=session.slot,
        start=start,
        end=end,
        pinned=session.pinned,
        state=session.state,
        headcount=session.headcount_used,
    )


def week_sessions(
    db: DbSession,
    region_id: str,
    week: str,
    *,
    vehicle: str | None = None,
    sites: Sequence[str] | None = None,
) -> list[tuple[Session, str | None]]:
    """Sessions in force of one region-week (cancelled ones left out), with site names."""
    rows = plans.week_schedule(
        db, region_id, week, vehicles=[vehicle] if vehicle is not None else None, sites=sites
    )
    ids = sorted({s.site_id for s in rows})
    names = (
        dict(db.exec(select(Site.id, Site.name).where(col(Site.id).in_(ids))).all()) if ids else {}
    )
    return [(s, names.get(s.site_id)) for s in rows]


def week_words(db: DbSession, region_id: str, week: str) -> Week:
    """What the words of a week's texts need: its first date and the site names."""
    region = db.get(Region, region_id)
    assert region is not None
    start = plans.region_calendar(region, week).start_date
    names = db.exec(select(Site.id, Site.name).where(Site.region_id == region_id)).all()
    return Week(start, {sid: name or sid for sid, name in names})


def plan_words(db: DbSession, plan: Plan) -> Week:
    return week_words(db, plan.region_id, plan.week)


def unserved_public(entries: Sequence[dict[str, Any]], week: Week, lang: str | None) -> list[Any]:
    """A plan's unserved sites for the API, the reasons in ``lang`` (None: both)."""
    return [
        schemas.Unserved(
            site=str(u.get("site")),
            site_name=week.site_names.get(str(u.get("site"))),
            reason=reason_text(u, week, lang),
            code=str(u["code"]) if u.get("code") else None,
        )
        for u in entries
    ]


def plan_public(db: DbSession, plan: Plan, lang: str | None = None) -> schemas.PlanPublic:
    """A stored plan for the API; the unserved sites' reasons in ``lang`` (None: both)."""
    assert plan.id is not None
    stats = plan_history.plan_stats(db, plan)
    week = plan_words(db, plan)
    return schemas.PlanPublic(
        id=plan.id,
        region=plan.region_id,
        week=plan.week,
        version=plan.version,
        status=plan.status,
        trigger=plan.trigger,
        cause=cause_text(plan.trigger, week.site_names, lang),
        created_at=plan.created_at,
        published_at=plan.published_at,
        stats=schemas.PlanStats.model_validate(stats),
        unserved=unserved_public(plan.unserved, week, lang),
        sessions=len(plan.sessions),
    )


# --- hot path: the weekly schedule as plain rows -------------------------------------------


def schedule_rows(
    db: DbSession,
    region_id: str,
    week: str,
    tz: ZoneInfo,
    *,
    vehicle: str | None = None,
    sites: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """The sessions of ``plans.week_schedule`` as ``SessionPublic``-shaped dicts.

    Same filter and order as fleet's query, but reading columns instead of whole ORM
    objects: boards poll the schedule, and this keeps it within its latency budget.
    """
    query = (
        select(  # type: ignore[call-overload]  # (14 columns: beyond sqlmodel's overloads)
            Session.id,
            Session.region_id,
            Session.week,
            Session.vehicle_id,
            Session.site_id,
            Site.name,
            Session.day,
            Session.date,
            Session.slot,
            Session.start,
            Session.end,
            Session.pinned,
            Session.state,
            Session.headcount_used,
        )
        .join(Site, col(Site.id) == col(Session.site_id))
        .where(Session.region_id == region_id, Session.week == week)
        .where(col(Session.in_force).is_(True), Session.state != "cancelled")
    )
    if vehicle is not None:
        query = query.where(Session.vehicle_id == vehicle)
    if sites is not None:
        query = query.where(col(Session.site_id).in_(list(sites)))
    query = query.order_by(col(Session.vehicle_id), col(Session.day), col(Session.start))
    keys = (
        "id", "region", "week", "vehicle", "site", "site_name", "day", "date", "slot",
        "start", "end", "pinned", "state", "headcount",
    )  # fmt: skip
    out = []
    for row in db.exec(query).all():
        item = dict(zip(keys, row, strict=True))
        item["start"] = row[9].astimezone(tz)
        item["end"] = row[10].astimezone(tz)
        out.append(item)
    return out


def plan_version_in_force(db: DbSession, region_id: str, week: str) -> int | None:
    """The version of ``plans.plan_in_force`` without loading the plan document."""
    return db.exec(
        select(Plan.version)
        .where(Plan.region_id == region_id, Plan.week == week, Plan.status == "published")
        .order_by(col(Plan.version).desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class NextStopRow:
    session_id: int
    slot: str
    start: datetime
    end: datetime
    state: str
    site_id: str
    site_name: str | None
    lat: float
    lon: float
    address: str | None
    timezone: str


@lru_cache(maxsize=1)
def _next_stop_query() -> Any:
    """Built once, on first use: building the statement costs more than running it."""
    return (
        select(  # type: ignore[call-overload]
            Session.id,
            Session.slot,
            Session.start,
            Session.end,
            Session.state,
            Site.id,
            Site.name,
            Site.lat,
            Site.lon,
            Site.address,
            Region.timezone,
        )
        .join(Site, col(Site.id) == col(Session.site_id))
        .join(Region, col(Region.id) == col(Session.region_id))
        .where(Session.vehicle_id == bindparam("vehicle_id"), col(Session.in_force).is_(True))
        .where(col(Session.state).in_([s.value for s in plans.ACTIVE_STATES]))
        .where(col(Session.end) > bindparam("now"))
        .order_by(col(Session.start))
        .limit(1)
    )


def next_stop_row(db: Connection, vehicle_id: str, now: datetime) -> NextStopRow | None:
    """``plans.next_stop`` with its site and time zone in one read of columns (hot path)."""
    row = db.execute(_next_stop_query(), {"vehicle_id": vehicle_id, "now": now}).first()
    return NextStopRow(*row) if row is not None else None
