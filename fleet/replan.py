"""Which re-plans a change of the registry asks for (pure reads; the caller publishes them).

A change to a site, a vehicle or a depot that the planner reads asks for a new plan of
the region's current and next planning week (those that have a plan already; a week
without one is planned by the worker's timer anyway). The requests go the way of every
other plan request (``rvrota.plan-requests``) and are coalesced there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fleet.db import DbSession
from fleet.domain import week_of, zone
from fleet.events import PlanRequest, new_event_id
from fleet.models import Region
from fleet.plans import latest_plan

# Fields whose change alters what the planner is given (name, address, contact and the
# plate do not).
SITE_PLAN_FIELDS = frozenset(
    {
        "lat",
        "lon",
        "headcount",
        "slots",
        "closed_weekdays",
        "closed_dates",
        "parking_capacity",
        "min_gap_days",
        "max_gap_days",
        "min_visits",
        "needs",
        "active_from",
        "active_until",
        "weight",
    }
)
VEHICLE_PLAN_FIELDS = frozenset({"depot", "amenities", "max_drive_minutes", "retired_at"})


def planned_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> list[str]:
    """The fields of ``fields`` whose value differs between before and after."""
    return sorted(f for f in fields if f in after and before.get(f) != after.get(f))


def planning_weeks(region: Region, now: datetime) -> list[str]:
    """The region's current and next planning week at ``now``."""
    today = now.astimezone(zone(region.timezone)).date()
    start = region.week_start_weekday
    return list(dict.fromkeys([week_of(today, start), week_of(today + timedelta(days=7), start)]))


def registry_plan_requests(
    db: DbSession, region_id: str | None, now: datetime, reason: str
) -> list[PlanRequest]:
    """Plan requests for the weeks of ``region_id`` that a registry change affects."""
    region = db.get(Region, region_id) if region_id is not None else None
    if region is None:
        return []
    cause = new_event_id()
    return [
        PlanRequest(
            region=region.id,
            week=week,
            reason=reason[:500],
            requested_at=now,
            cause_event_id=cause,
        )
        for week in planning_weeks(region, now)
        if latest_plan(db, region.id, week) is not None
    ]
