"""Conversions between the database and the planner's files (rotation-format.md).

- ``import_scenario``: a scenario document -> region settings, depots, sites, vehicles
  (validated first; an invalid document writes nothing).
- ``build_scenario``: live state of a region and ISO week at the clock's now -> a scenario.
- a plan document -> sessions: ``fleet.plans.store_plan``.

A scenario's per-day facts are stored as dated facts so that they survive a round trip:
``closed_days`` as closed weekdays (a whole week) or dated closures, and ``unavailable``
entries as planned windows out of service of the vehicle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fleet.db import DbSession
from fleet.domain import (
    SessionState,
    SlotWindow,
    WeekCalendar,
    Window,
    active_in,
    closed_days_of_week,
    day_bounds,
    format_iso_week,
    last_visit_day,
    natural_key,
    site_max_gap_days,
    split_closed_days,
    week_of,
    zone,
)
from fleet.models import Depot, Region, Session, Site, Vehicle
from fleet.plans import (
    cancel_sessions,
    confirm_sessions,
    forbidden_sessions,
    last_visit_dates,
    region_calendar,
    session_ref,
    sessions_in_force,
)
from fleet.registry import (
    UnknownReference,
    list_depots,
    list_sites,
    list_vehicles,
    replace_planned_unavailability,
    replace_site_closures,
    site_closures,
    upsert_depot,
    upsert_region,
    upsert_site,
    upsert_vehicle,
)
from fleet.reports import latest_headcounts, unavailability

log = logging.getLogger(__name__)

SCENARIO_FORMAT = "rvrota.scenario/1"
IMPORT_REASON = "scenario import"

__all__ = [
    "Continuity",
    "ImportSummary",
    "build_scenario",
    "import_scenario",
    "scenario_week",
]


@dataclass(frozen=True)
class Continuity:
    """How the live system fills the format's additions for sites (rotation-format.md).

    ``default_max_gap_days`` applies to sites of at least ``real_size_headcount`` workers
    whose registry entry has no ``max_gap_days``; ``overdue_penalty`` to regions whose
    objective names none.
    """

    default_max_gap_days: int | None = 14
    real_size_headcount: int = 50
    overdue_penalty: float = 50.0

    @classmethod
    def from_settings(cls) -> Continuity:
        from core.settings import get_settings

        settings = get_settings()
        return cls(
            default_max_gap_days=settings.default_max_gap_days,
            real_size_headcount=settings.real_size_headcount,
            overdue_penalty=settings.overdue_penalty,
        )


@dataclass
class ImportSummary:
    region: str
    week: str
    depots: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    vehicles: list[str] = field(default_factory=list)


def _ordered_unique(values: Sequence[Any] | None) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values or []))


def _travel_json(travel: Any) -> dict[str, Any]:
    if getattr(travel, "model", "haversine") == "matrix":
        return {
            "model": "matrix",
            "ids": list(travel.ids),
            "km": [list(row) for row in travel.km],
            "minutes": [[int(m) for m in row] for row in travel.minutes],
        }
    return {"model": "haversine", "speed_kmh": travel.speed_kmh, "circuity": travel.circuity}


def scenario_week(data: dict[str, Any]) -> str:
    """The ISO week of a scenario's ``start_date`` (the week an import describes)."""
    from solver.load import parse_scenario

    return format_iso_week(parse_scenario(data).start_date)


def import_scenario(db: DbSession, data: dict[str, Any], region: str = "default") -> ImportSummary:
    """Load a scenario's region settings, depots, sites and vehicles (idempotent upsert).

    The document is validated first with ``solver.load.parse_scenario``; an invalid one
    raises ``solver.load.ScenarioError(path, reason)`` before anything is written. Run it
    inside one transaction (``session_scope``) so that a failure later writes nothing either.
    """
    from solver.load import parse_scenario

    scenario = parse_scenario(data)
    raw_sites = {str(s["id"]): s for s in data["sites"]}
    raw_vehicles = {str(v["id"]): v for v in data["vehicles"]}
    start_weekday = scenario.start_date.weekday()
    week = week_of(scenario.start_date, start_weekday)
    existing = db.get(Region, region)
    upsert_region(
        db,
        Region(
            id=region,
            name=existing.name if existing is not None and existing.name else scenario.name,
            timezone=scenario.timezone,
            week_start_weekday=start_weekday,
            days=scenario.days,
            slots=[SlotWindow(s.id, s.start, s.end).to_json() for s in scenario.slots],
            setup_minutes=scenario.setup_minutes,
            travel=_travel_json(scenario.travel),
            objective={
                "repeat_decay": scenario.objective.repeat_decay,
                "km_cost": scenario.objective.km_cost,
                "shortfall_penalty": scenario.objective.shortfall_penalty,
                "change_penalty": scenario.objective.change_penalty,
            },
        ),
    )
    summary = ImportSummary(region=region, week=week)
    for depot in scenario.depots:
        upsert_depot(
            db, Depot(id=depot.id, name=depot.name, lat=depot.lat, lon=depot.lon, region_id=region)
        )
        summary.depots.append(depot.id)
    tz = zone(scenario.timezone)
    first = scenario.start_date
    last = first + timedelta(days=scenario.days - 1)
    all_slots = [s.id for s in scenario.slots]
    for site in scenario.sites:
        raw = raw_sites[site.id]
        weekdays, dates = split_closed_days(first, scenario.days, site.closed_days)
        row = Site(
            id=site.id,
            name=site.name,
            address=site.address,
            lat=site.lat,
            lon=site.lon,
            region_id=region,
            default_headcount=site.headcount,
            slots=None if list(site.slots) == all_slots else list(site.slots),
            closed_weekdays=weekdays,
            parking_capacity=site.capacity,
            min_gap_days=site.min_gap_days,
            min_visits=site.min_visits,
            needs=_ordered_unique(raw.get("needs")),
            max_gap_days=site.max_gap_days,
        )
        if db.get(Site, site.id) is None:
            row.registered_on = first  # a new site enters the registry with its week
        upsert_site(db, row)
        replace_site_closures(db, site.id, first, last, dates)
        summary.sites.append(site.id)
    horizon = (day_bounds(first, tz)[0], day_bounds(last, tz)[1])
    for vehicle in scenario.vehicles:
        raw = raw_vehicles[vehicle.id]
        upsert_vehicle(
            db,
            Vehicle(
                id=vehicle.id,
                depot_id=vehicle.depot,
                region_id=region,
                amenities=_ordered_unique(raw.get("amenities")),
                max_drive_minutes=vehicle.max_drive_minutes,
            ),
        )
        windows: list[tuple[datetime, datetime]] = []
        for entry in vehicle.unavailable:
            day = first + timedelta(days=entry.day)
            if entry.slots is None:
                windows.append(day_bounds(day, tz))
            else:
                for slot_id in entry.slots:
                    slot = next(s for s in scenario.slots if s.id == slot_id)
                    windows.append(
                        (
                            datetime.combine(day, datetime.min.time(), tzinfo=tz)
                            + timedelta(minutes=slot.start),
                            datetime.combine(day, datetime.min.time(), tzinfo=tz)
                            + timedelta(minutes=slot.end),
                        )
                    )
        replace_planned_unavailability(db, vehicle.id, *horizon, windows, reason=IMPORT_REASON)
        summary.vehicles.append(vehicle.id)
    db.flush()
    log.info(
        "imported %d depots, %d sites, %d vehicles into region %s",
        len(summary.depots),
        len(summary.sites),
        len(summary.vehicles),
        region,
    )
    return summary


# --- live state -> scenario ------------------------------------------------------------------


def _unavailable_slots(
    calendar: WeekCalendar, windows: Sequence[Window], now: datetime
) -> dict[int, list[str]]:
    """Per day, the slots not yet started at ``now`` that a window out of service overlaps."""
    result: dict[int, list[str]] = {}
    for ref in calendar.slot_refs():
        start, end = calendar.bounds(ref.day, ref.slot)
        if start <= now:
            continue
        if any(w.covers_any_of(start, end) for w in windows):
            result.setdefault(ref.day, []).append(ref.slot)
    return result


def _unavailable_entries(
    calendar: WeekCalendar, slots_by_day: dict[int, list[str]]
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for day in sorted(slots_by_day):
        slots = slots_by_day[day]
        if slots == calendar.slot_ids:
            entries.append({"day": day})
        else:
            entries.append({"day": day, "slots": slots})
    return entries


def build_scenario(
    db: DbSession,
    region: str,
    week: str,
    now: datetime,
    *,
    apply_cancellations: bool = True,
    continuity: Continuity | None = None,
    lock_until: datetime | None = None,
    change_penalty: float | None = None,
    keep_confirmed: bool = True,
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The scenario of a region's week from live state at ``now`` (the service clock's now).

    Each site's ``weight`` (``weights``, default: observed attendance and the ten-minute
    circle of fixed shared homes, ``fleet.observed``; 1 is left out).

    Sites active that week with their latest headcount (else their default) and that
    week's closed days; vehicles with the slots not yet started that their windows out of
    service cover; ``frozen_before`` at the first slot not yet started; as ``pinned`` the
    sessions done, under way, confirmed, pinned by a dispatcher or already started, except
    future ones whose vehicle is now unavailable (or whose site is closed that day): those
    are cancelled in the database (the caller's transaction; ``apply_cancellations=False``
    leaves the database alone); the plan in force's sessions as ``previous``; as
    ``forbidden`` the future sessions a dispatcher or a site's manager took out by hand.

    Continuity across weeks (``continuity``, default from the settings): each site's
    ``last_visit_day`` from its last session done or under way before the week (or still
    to come, planned or confirmed), however long ago, else from its first day in the
    registry; ``max_gap_days`` from the registry or the default for sites of real size;
    the objective's ``overdue_penalty`` unless the region names its own.

    The live week's stability: sessions planned to start before ``lock_until`` (the
    lock-in horizon) are confirmed (when writing) and pinned, except when a session
    inside the horizon is lost with its vehicle: then the horizon's sessions not started
    and not pinned by hand stay only ``previous`` (priced), so the solver may move them
    to cover the loss when that is worth more than the moves; ``change_penalty``, when
    given, prices each change to ``previous``. ``keep_confirmed=False`` pins only what
    has started or a dispatcher pinned (the way out when confirmed sessions conflict).
    """
    rules = continuity if continuity is not None else Continuity.from_settings()
    region_row = db.get(Region, region)
    if region_row is None:
        raise UnknownReference(f"region: no region {region!r}")
    calendar = region_calendar(region_row, week)
    first, last = calendar.start_date, calendar.last_date

    sites = sorted(
        (
            s
            for s in list_sites(db, region)
            if active_in(s.active_from, s.active_until, first, last)
        ),
        key=lambda s: natural_key(s.id),
    )
    site_ids = [s.id for s in sites]
    headcounts = latest_headcounts(db, site_ids)
    closures = site_closures(db, site_ids, first, last)
    last_visits = last_visit_dates(db, site_ids, first, now)
    closed: dict[str, list[int]] = {
        s.id: closed_days_of_week(first, calendar.days, s.closed_weekdays, closures.get(s.id, []))
        for s in sites
    }

    span_start, span_end = calendar.span()
    vehicles = sorted(
        (
            v
            for v in list_vehicles(db, region)
            if v.retired_at is None or v.retired_at > span_start  # retired before: gone
        ),
        key=lambda v: natural_key(v.id),
    )
    windows = unavailability(db, vehicles, span_start, span_end)
    unavailable = {v.id: _unavailable_slots(calendar, windows.get(v.id, []), now) for v in vehicles}

    depot_ids = {d.id for d in list_depots(db, region)} | {v.depot_id for v in vehicles}
    depots = [
        d for d in (db.get(Depot, i) for i in sorted(depot_ids, key=natural_key)) if d is not None
    ]

    # Sessions: cancel future ones that can no longer happen, pin what must stay.
    known_sites = set(site_ids)
    in_force = sessions_in_force(db, region, week)
    doomed = []
    for session in in_force:
        if session.start <= now:
            continue
        if session.slot in unavailable.get(session.vehicle_id, {}).get(session.day, []) or (
            session.day in closed.get(session.site_id, [])
        ):
            doomed.append(session)
    for session in cancel_sessions(db, doomed) if apply_cancellations else []:
        log.info(
            "cancelled session %s (%s at %s, day %d %s): vehicle unavailable or site closed",
            session.id,
            session.vehicle_id,
            session.site_id,
            session.day,
            session.slot,
        )
    live = [
        s
        for s in in_force
        if s.state != SessionState.CANCELLED.value
        and s not in doomed
        and s.site_id in known_sites
        and s.vehicle_id in unavailable
    ]
    forbidden = [
        session_ref(s)
        for s in forbidden_sessions(db, region, week)
        if s.start > now and s.site_id in known_sites and s.vehicle_id in unavailable
    ]
    taken_out = {(f["vehicle"], f["site"], f["day"], f["slot"]) for f in forbidden}
    live = [s for s in live if (s.vehicle_id, s.site_id, s.day, s.slot) not in taken_out]
    locked = [
        s
        for s in live
        if lock_until is not None and now < s.start <= lock_until and s.state == "planned"
    ]
    if apply_cancellations and locked:
        confirm_sessions(db, locked)
    # A session inside the horizon lost with its vehicle: the sessions the horizon alone
    # keeps (not started, not pinned by a dispatcher) may move to cover it, each move
    # priced like any change, so only a cover that serves more workers than the moves
    # cost happens.
    cover = lock_until is not None and any(
        s.start <= lock_until
        and s.slot in unavailable.get(s.vehicle_id, {}).get(s.day, [])
        and not SessionState(s.state).survives_removal
        for s in doomed
    )

    def kept_by_horizon(s: Session) -> bool:
        held = SessionState(s.state) is SessionState.CONFIRMED or s in locked
        return keep_confirmed and held and not (cover and not s.pinned and s.start > now)

    pinned = [
        session_ref(s)
        for s in live
        if s.pinned
        or s.start <= now
        or kept_by_horizon(s)
        or SessionState(s.state).is_fixed
        and SessionState(s.state) is not SessionState.CONFIRMED
        or SessionState(s.state).survives_removal
    ]
    previous = [session_ref(s) for s in live]

    doc: dict[str, Any] = {
        "format": SCENARIO_FORMAT,
        "name": f"{region}-{week}",
        "timezone": region_row.timezone,
        "start_date": first.isoformat(),
        "days": calendar.days,
        "slots": [slot.to_json() for slot in calendar.slots],
        "setup_minutes": region_row.setup_minutes,
        "travel": dict(region_row.travel) or {"model": "haversine"},
        "objective": {"overdue_penalty": rules.overdue_penalty, **dict(region_row.objective)}
        | ({"change_penalty": change_penalty} if change_penalty is not None else {}),
        "depots": [_depot_json(d) for d in depots],
        "sites": [
            _site_json(
                s,
                headcounts[s.id].count if s.id in headcounts else None,
                closed[s.id],
                calendar,
                rules,
                last_visits.get(s.id),
            )
            for s in sites
        ],
        "vehicles": [
            _vehicle_json(v, _unavailable_entries(calendar, unavailable[v.id])) for v in vehicles
        ],
    }
    if weights is None:
        weights = observed_weights(db, region, now)
    for site_doc in doc["sites"]:
        if site_doc["id"] in weights:
            site_doc["weight"] = weights[site_doc["id"]]
    frozen = calendar.first_open_slot(now)
    if frozen is None:
        last_ref = calendar.slot_refs()[-1]
        log.warning("%s %s: every slot has started; only the last slot stays open", region, week)
        doc["frozen_before"] = {"day": last_ref.day, "slot": last_ref.slot}
    elif (frozen.day, frozen.order) != (0, 0):
        doc["frozen_before"] = {"day": frozen.day, "slot": frozen.slot}
    if pinned:
        doc["pinned"] = pinned
    if previous:
        doc["previous"] = previous
    if forbidden:
        doc["forbidden"] = forbidden
    return doc


def observed_weights(db: DbSession, region: str, now: datetime) -> dict[str, float]:
    """The sites' weights from the settings' rules (none when switched off)."""
    from fleet import observed

    found = observed.rules_from_settings()
    if found is None:
        return {}
    rules, weeks = found
    return observed.region_weights(db, region, now, rules, weeks)


def _depot_json(depot: Depot) -> dict[str, Any]:
    out: dict[str, Any] = {"id": depot.id}
    if depot.name is not None:
        out["name"] = depot.name
    out["lat"], out["lon"] = depot.lat, depot.lon
    return out


def _site_json(
    site: Site,
    reported: int | None,
    closed_days: list[int],
    calendar: WeekCalendar,
    rules: Continuity,
    last_visit: date | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": site.id}
    if site.name is not None:
        out["name"] = site.name
    if site.address is not None:
        out["address"] = site.address
    headcount = reported if reported is not None else site.default_headcount
    out.update(
        {
            "lat": site.lat,
            "lon": site.lon,
            "headcount": headcount,
            "slots": [s for s in calendar.slot_ids if site.slots is None or s in site.slots],
            "closed_days": closed_days,
            "capacity": site.parking_capacity,
            "min_gap_days": site.min_gap_days,
            "min_visits": site.min_visits,
            "needs": list(site.needs),
        }
    )
    lvd = last_visit_day(calendar.start_date, last_visit, site.registered_on, site.min_gap_days)
    if lvd is not None:
        out["last_visit_day"] = lvd
    max_gap = site_max_gap_days(
        site.max_gap_days, headcount, rules.default_max_gap_days, rules.real_size_headcount
    )
    if max_gap is not None:
        out["max_gap_days"] = max_gap
    return out


def _vehicle_json(vehicle: Vehicle, unavailable: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": vehicle.id,
        "depot": vehicle.depot_id,
        "amenities": list(vehicle.amenities),
    }
    if vehicle.max_drive_minutes is not None:
        out["max_drive_minutes"] = vehicle.max_drive_minutes
    out["unavailable"] = unavailable
    return out
