"""Persisting accepted events and detecting the changes that ask for a new plan.

Synchronous database work (the agents run it in a thread): one transaction per batch
of events. Effects are idempotent per ``event_id`` (unique in the report tables), so a
batch redelivered after a crash changes nothing twice. Change detection reads the
state that is now in the database, not the events, so a redelivered batch asks again
for any plan it asked for before (harmless: plan requests are coalesced).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fleet.db import DbSession
from fleet.domain import active_in, plan_headcounts, zone
from fleet.events import (
    EventRejected,
    HeadcountEvent,
    PlanRequest,
    VehicleStatusEvent,
)
from fleet.models import Plan, Region
from fleet.plans import (
    finish_ended_sessions,
    finish_session,
    get_plan,
    latest_plan,
    plan_in_force_id,
    region_calendar,
    start_current_session,
)
from fleet.registry import (
    UnknownReference,
    get_region,
    get_vehicle,
    list_regions,
    list_sites,
    list_vehicles,
    site_regions,
)
from fleet.reports import (
    HeadcountRow,
    latest_headcounts,
    record_headcounts,
    record_vehicle_status,
    reported_out_of_service,
)
from fleet.sessions_ahead import sessions_ahead
from streams import rules

log = logging.getLogger(__name__)

__all__ = [
    "HeadcountBatch",
    "StatusBatch",
    "due_plan_requests",
    "finish_ended_sessions",
    "headcount_plan_requests",
    "persist_headcounts",
    "persist_vehicle_statuses",
    "vehicle_plan_requests",
]


@dataclass
class HeadcountBatch:
    """What one batch of headcount events did."""

    new: list[HeadcountEvent] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, EventRejected]] = field(default_factory=list)
    site_regions: dict[str, str] = field(default_factory=dict)
    latest: dict[str, rules.Observation] = field(default_factory=dict)


def persist_headcounts(
    db: DbSession,
    items: Sequence[HeadcountEvent],
    received_at: datetime,
    known_latest: dict[str, rules.Observation] | None = None,
) -> HeadcountBatch:
    """Keep every headcount report of known sites; unknown sites are rejected by index.

    ``known_latest`` is the current newest report of some sites as a cache holds it
    (``streams.state.LatestHeadcounts``); for those sites the newest is taken from it and
    the new reports of the batch, for every other site it is read from the database.
    """
    batch = HeadcountBatch()
    site_ids = sorted({e.site_id for e in items})
    known = site_regions(db, site_ids)
    rows: list[HeadcountRow] = []
    seen: set[str] = set()
    for index, event in enumerate(items):
        if event.site_id not in known:
            batch.rejected.append((index, EventRejected("site_id", f"no site {event.site_id!r}")))
            continue
        if event.event_id in seen:
            batch.duplicates += 1
            continue
        seen.add(event.event_id)
        rows.append(
            HeadcountRow(
                event.event_id,
                event.site_id,
                event.count,
                event.observed_at,
                received_at,
                event.source,
                event.shift,
            )
        )
    inserted = record_headcounts(db, rows)
    by_id = {e.event_id: e for e in items}
    batch.new = [by_id[eid] for eid in (r.event_id for r in rows) if eid in inserted]
    batch.duplicates += len(rows) - len(batch.new)
    touched = sorted({e.site_id for e in items if e.site_id in known})
    batch.site_regions = {s: known[s] for s in touched}
    hint = known_latest or {}
    cold = [site for site in touched if site not in hint]
    for site_id, report in latest_headcounts(db, cold).items():
        batch.latest[site_id] = rules.Observation(report.count, report.observed_at, report.event_id)
    for site_id in touched:
        if site_id in hint:
            candidates = [hint[site_id]] + [
                rules.Observation(e.count, e.observed_at, e.event_id)
                for e in batch.new
                if e.site_id == site_id
            ]
            newest = rules.newest(candidates)
            if newest is not None:
                batch.latest[site_id] = newest
    return batch


@dataclass
class StatusBatch:
    new: list[VehicleStatusEvent] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, EventRejected]] = field(default_factory=list)
    views: dict[str, rules.VehicleView] = field(default_factory=dict)
    vehicle_regions: dict[str, str] = field(default_factory=dict)
    sessions_started: int = 0
    sessions_done: int = 0


def persist_vehicle_statuses(
    db: DbSession, items: Sequence[VehicleStatusEvent], received_at: datetime, now: datetime
) -> StatusBatch:
    """Keep every status report; the newest becomes the vehicle's status; drive sessions."""
    batch = StatusBatch()
    before: dict[str, str | None] = {}
    for index, event in enumerate(items):
        vehicle = get_vehicle(db, event.vehicle_id)
        if vehicle is None:
            batch.rejected.append(
                (index, EventRejected("vehicle_id", f"no vehicle {event.vehicle_id!r}"))
            )
            continue
        before.setdefault(vehicle.id, vehicle.status)
        try:
            is_new = record_vehicle_status(
                db,
                event_id=event.event_id,
                vehicle_id=event.vehicle_id,
                status=event.status,
                observed_at=event.observed_at,
                received_at=received_at,
                lat=event.lat,
                lon=event.lon,
                until=event.until,
                note=event.note,
                late_minutes=event.late_minutes,
            )
        except UnknownReference as exc:
            batch.rejected.append((index, EventRejected("vehicle_id", str(exc))))
            continue
        if not is_new:
            batch.duplicates += 1
            continue
        batch.new.append(event)
        batch.vehicle_regions[vehicle.id] = vehicle.region_id
        if event.status == "on_site":
            if start_current_session(db, event.vehicle_id, event.observed_at) is not None:
                batch.sessions_started += 1
        elif (
            event.status == "en_route"
            and finish_session(db, event.vehicle_id, event.observed_at) is not None
        ):
            batch.sessions_done += 1
    for vehicle_id in batch.vehicle_regions:
        vehicle = get_vehicle(db, vehicle_id)
        if vehicle is None:  # pragma: no cover - checked above
            continue
        batch.views[vehicle_id] = rules.VehicleView(
            vehicle_id=vehicle_id,
            status=vehicle.status,
            unavailable_from=vehicle.unavailable_from,
            unavailable_until=vehicle.unavailable_until,
            previous_status=before.get(vehicle_id),
            future_session_starts=sessions_ahead(db, vehicle_id, now),
        )
    return batch


# --- change detection -------------------------------------------------------------------


def _weeks(region: Region, now: datetime) -> tuple[str, str]:
    today = now.astimezone(zone(region.timezone)).date()
    return rules.planning_weeks(today, region.week_start_weekday)


class PlanFigures:
    """The headcounts each stored plan used, read once per plan (stored plans never change)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._by_plan: dict[int, dict[str, int]] = {}

    def in_force(self, db: DbSession, region: str, week: str) -> dict[str, int] | None:
        plan_id = plan_in_force_id(db, region, week)
        if plan_id is None:
            return None
        figures = self._by_plan.get(plan_id)
        if figures is None:
            plan = get_plan(db, plan_id)
            figures = plan_headcounts(plan.scenario) if plan is not None else {}
            if len(self._by_plan) >= self._size:
                self._by_plan.pop(next(iter(self._by_plan)))
            self._by_plan[plan_id] = figures
        return figures


def headcount_plan_requests(
    db: DbSession,
    latest: dict[str, rules.Observation],
    site_regions: dict[str, str],
    now: datetime,
    *,
    min_fraction: float,
    min_workers: int,
    figures: PlanFigures | None = None,
) -> list[PlanRequest]:
    """Requests for every (region, week) whose plan in force used a materially different count."""
    requests: list[PlanRequest] = []
    figures = figures if figures is not None else PlanFigures()
    by_region: dict[str, list[str]] = {}
    for site_id, region_of_site in site_regions.items():
        by_region.setdefault(region_of_site, []).append(site_id)
    for region_id, site_ids in sorted(by_region.items()):
        region_row = get_region(db, region_id)
        if region_row is None:
            continue
        for week in _weeks(region_row, now):
            used = figures.in_force(db, region_id, week)
            if used is None:
                continue
            for site_id in sorted(site_ids):
                obs = latest.get(site_id)
                if obs is None or site_id not in used:
                    continue  # a site new to the plan: the timer's "site added" check
                if rules.headcount_change_is_material(
                    used.get(site_id), obs.count, min_fraction, min_workers
                ):
                    requests.append(
                        PlanRequest(
                            region=region_id,
                            week=week,
                            reason=rules.headcount_reason(site_id, used.get(site_id), obs.count),
                            requested_at=now,
                            cause_event_id=obs.event_id,
                        )
                    )
    return requests


def vehicle_plan_requests(
    db: DbSession,
    views: dict[str, rules.VehicleView],
    vehicle_regions: dict[str, str],
    causes: dict[str, str],
    now: datetime,
) -> list[PlanRequest]:
    """Requests for the weeks of the regions whose vehicles' status asks for a new plan."""
    requests: list[PlanRequest] = []
    for vehicle_id, view in sorted(views.items()):
        reason = rules.vehicle_change_reason(view, now)
        if reason is None:
            continue
        region = get_region(db, vehicle_regions[vehicle_id])
        if region is None:
            continue
        for week in _weeks(region, now):
            if latest_plan(db, region.id, week) is None:
                continue
            requests.append(
                PlanRequest(
                    region=region.id,
                    week=week,
                    reason=reason,
                    requested_at=now,
                    cause_event_id=causes.get(vehicle_id),
                )
            )
    return requests


def due_plan_requests(
    db: DbSession,
    now: datetime,
    next_week_max_age: timedelta,
    *,
    min_fraction: float = 0.2,
    min_workers: int = 30,
    regions: Sequence[str] | None = None,
) -> list[PlanRequest]:
    """What the timer asks for: every region keeps an up-to-date plan for this week and the next.

    A week is planned when it has no plan; the next week also when its newest plan is older
    than ``next_week_max_age``. A week with a plan is re-planned when a site or vehicle was
    added since, when a vehicle now out of service still has sessions not yet started in
    its window, or when a site's newest headcount differs materially from the plan's figure
    (so a request lost in a crash is asked for again).
    """
    requests: list[PlanRequest] = []
    for region in list_regions(db, regions):
        current, following = _weeks(region, now)
        for week in (current, following):
            newest = latest_plan(db, region.id, week)
            reason: str | None = None
            if newest is None:
                reason = f"no plan for {week}"
            elif week == following and rules.next_week_due(
                newest.created_at, now, next_week_max_age
            ):
                reason = f"daily plan for {week}"
            else:
                reason = (
                    _added_reason(db, region, newest)
                    or _unavailable_reason(db, region.id, week, now)
                    or _headcount_reason(db, newest, min_fraction, min_workers)
                )
            if reason is not None:
                requests.append(
                    PlanRequest(region=region.id, week=week, reason=reason, requested_at=now)
                )
    return requests


def _added_reason(db: DbSession, region: Region, plan: Plan) -> str | None:
    scenario = plan.scenario or {}
    if not scenario:
        return None
    calendar = region_calendar(region, plan.week)
    planned_sites = {str(s["id"]) for s in scenario.get("sites", [])}
    planned_vehicles = {str(v["id"]) for v in scenario.get("vehicles", [])}
    active = {
        s.id
        for s in list_sites(db, region.id)
        if active_in(s.active_from, s.active_until, calendar.start_date, calendar.last_date)
    }
    new_sites = sorted(active - planned_sites)
    new_vehicles = sorted({v.id for v in list_vehicles(db, region.id)} - planned_vehicles)
    if new_sites:
        return f"site added: {', '.join(new_sites[:5])}"
    if new_vehicles:
        return f"vehicle added: {', '.join(new_vehicles[:5])}"
    return None


def _unavailable_reason(db: DbSession, region_id: str, week: str, now: datetime) -> str | None:
    for vehicle in reported_out_of_service(db, region_id):
        view = rules.VehicleView(
            vehicle_id=vehicle.id,
            status=vehicle.status,
            unavailable_from=vehicle.unavailable_from,
            unavailable_until=vehicle.unavailable_until,
            previous_status=None,
            future_session_starts=sessions_ahead(db, vehicle.id, now, week),
        )
        reason = rules.vehicle_change_reason(view, now)
        if reason is not None:
            return reason
    return None


def _headcount_reason(
    db: DbSession, plan: Plan, min_fraction: float, min_workers: int
) -> str | None:
    used = plan_headcounts(plan.scenario)
    for site_id, report in sorted(latest_headcounts(db, sorted(used)).items()):
        if rules.headcount_change_is_material(
            used[site_id], report.count, min_fraction, min_workers
        ):
            return rules.headcount_reason(site_id, used[site_id], report.count)
    return None
