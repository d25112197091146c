"""What the routes share: HTTP errors, the region and week of a request, and fleet's
rows shaped as the API's schemas.

No queries here: every read and write is a function of fleet (its read model and use
cases); the routes parse, authorise, call fleet and answer through these helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, status

from api import schemas
from fleet import plan_history, plans, registry, users
from fleet.cause_words import cause_text
from fleet.db import DbSession
from fleet.domain import DomainError, SlotWindow, parse_iso_week, week_of, week_start, zone
from fleet.messages import Week
from fleet.models import Plan, Region, Session, Site, User, Vehicle
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
        region = registry.get_region(db, region_id)
        if region is None:
            raise not_found("region", region_id)
        return region
    try:
        found = registry.default_region(db)
    except registry.AmbiguousRegion as exc:
        raise unprocessable("region", "several regions exist: name one") from exc
    if found is None:
        raise not_found("region", "default")
    return found


def region_zone(region: Region) -> ZoneInfo:
    return zone(region.timezone)


def zone_of_region(db: DbSession, region_id: str) -> ZoneInfo:
    region = registry.get_region(db, region_id)
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
        closed_dates=registry.site_closures(db, [site.id], None, None).get(site.id, []),
        parking_capacity=site.parking_capacity,
        min_gap_days=site.min_gap_days,
        max_gap_days=site.max_gap_days,
        min_visits=site.min_visits,
        needs=list(site.needs),
        active_from=site.active_from,
        active_until=site.active_until,
        contact=site.contact,
        registered_on=site.registered_on,
        town=site.town,
    )


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
        retired_at=vehicle.retired_at,
    )


# --- users ---------------------------------------------------------------------------------


def user_public(db: DbSession, user: User) -> schemas.UserPublic:
    assert user.id is not None
    sites = users.user_sites(db, user.id)
    return schemas.UserPublic(
        id=user.id,
        name=user.name,
        role=user.role,  # type: ignore[arg-type]
        disabled=user.disabled,
        sites=sites,
        vehicle=user.vehicle_id,
    )


# --- sessions and plans --------------------------------------------------------------------


def session_public(
    session: Session, site_name: str | None, tz: ZoneInfo | None = None
) -> schemas.SessionPublic:
    """A session for the API; times in the region's zone when ``tz`` is given."""
    row = plans.ScheduleRow.of(session, site_name)
    return schemas.SessionPublic.model_validate(session_item(row, tz))


def week_words(db: DbSession, region_id: str, week: str) -> Week:
    """What the words of a week's texts need: its first date and the site names."""
    region = db.get(Region, region_id)
    assert region is not None
    start = plans.region_calendar(region, week).start_date
    return Week(start, registry.site_names_in_region(db, region_id))


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

SCHEDULE_KEYS = (
    "id", "region", "week", "vehicle", "site", "site_name", "day", "date", "slot",
    "start", "end", "pinned", "state", "headcount",
)  # fmt: skip


def session_item(row: plans.ScheduleRow, tz: ZoneInfo | None) -> dict[str, object]:
    """A session as the API shows it: the fields of ``SessionPublic`` (the one mapping of a
    session to the API), times in the region's zone when ``tz`` is given."""
    item: dict[str, object] = dict(zip(SCHEDULE_KEYS, row, strict=True))
    if tz is not None:
        item["start"] = row.start.astimezone(tz)
        item["end"] = row.end.astimezone(tz)
    return item


def schedule_rows(
    db: DbSession,
    region_id: str,
    week: str,
    tz: ZoneInfo,
    *,
    vehicle: str | None = None,
    sites: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """The sessions of ``plans.week_schedule`` as ``session_item`` dicts (serialised once by
    the hot routes)."""
    rows = plans.week_schedule(
        db, region_id, week, vehicles=[vehicle] if vehicle is not None else None, sites=sites
    )
    return [session_item(row, tz) for row in rows]
