"""Plans and sessions: store a plan as sessions, publish, pin, start and finish, schedules.

A session's identity is (region, week, vehicle, site, day, slot): when a new plan version
lists the same identity again, the stored row keeps its id, its pin and its state. Sessions
a new plan drops are cancelled unless already under way or done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, or_
from sqlmodel import col, select

from core.clock import WallClock
from fleet import events, outbox
from fleet.db import Connection, DbSession
from fleet.domain import (
    DomainError,
    PlanStatus,
    SessionIdentity,
    SessionState,
    SlotWindow,
    WeekCalendar,
    parse_iso_week,
    plan_changes,
    plan_headcounts,
    site_changes,
    state_after_removal,
)
from fleet.models import Plan, Region, Session, Site
from fleet.notify import notify_published
from fleet.registry import UnknownReference
from solver.load import session_to_dict
from solver.scenario import SessionKey

log = logging.getLogger(__name__)

# A driver may report "arrived" this long before the slot starts (to set up).
ARRIVAL_LEAD = timedelta(hours=2)
ACTIVE_STATES = (SessionState.PLANNED, SessionState.CONFIRMED, SessionState.IN_PROGRESS)


def change_state(session: Session, state: SessionState) -> bool:
    """Give a session a new state; its calendar SEQUENCE rises with every change."""
    if session.state == state.value:
        return False
    session.state = state.value
    session.sequence = (session.sequence or 0) + 1
    return True


def region_calendar(region: Region, week: str) -> WeekCalendar:
    """The planning week of a region: its dates, slots and time zone."""
    parse_iso_week(week)
    slots = [SlotWindow.from_json(s) for s in region.slots]
    if not slots:
        raise DomainError(f"slots: region {region.id!r} has no slots")
    return WeekCalendar.of(week, slots, region.timezone, region.week_start_weekday, region.days)


def identity_of(session: Session) -> SessionIdentity:
    return SessionIdentity(
        session.region_id,
        session.week,
        session.vehicle_id,
        session.site_id,
        session.day,
        session.slot,
    )


def session_ref(session: Session) -> dict[str, Any]:
    """A session as an entry of the plan format: vehicle, site, day and slot."""
    key = SessionKey(session.vehicle_id, session.site_id, session.day, session.slot)
    return dict(session_to_dict(key))


def session_json(session: Session, calendar: WeekCalendar | None = None) -> dict[str, Any]:
    """A session in the plan format (with its id, pin and state), times in local offset."""
    start, end = session.start, session.end
    if calendar is not None:
        start, end = start.astimezone(calendar.tz), end.astimezone(calendar.tz)
    return {
        "id": session.id,
        **session_ref(session),
        "date": session.date.isoformat(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "pinned": session.pinned,
        "state": session.state,
    }


@dataclass
class VehicleAssignments:
    """How a new plan in force changed one vehicle's sessions (for its driver)."""

    vehicle_id: str
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SiteVisitChanges:
    """How a new plan in force changed one site's sessions (for its managers)."""

    site_id: str
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PlanOutcome:
    """A stored plan and, once it is in force, the changes per vehicle and per site."""

    plan: Plan
    published: bool
    assignments: dict[str, VehicleAssignments] = field(default_factory=dict)
    visits: dict[str, SiteVisitChanges] = field(default_factory=dict)
    unchanged: bool = False

    @property
    def changed_vehicles(self) -> list[str]:
        return sorted(self.assignments)


def _region(db: DbSession, region_id: str) -> Region:
    region = db.get(Region, region_id)
    if region is None:
        raise UnknownReference(f"region: no region {region_id!r}")
    return region


def next_version(db: DbSession, region_id: str, week: str) -> int:
    query = select(func.max(Plan.version)).where(Plan.region_id == region_id, Plan.week == week)
    current = db.exec(query).one()
    return int(current or 0) + 1


def store_plan(
    db: DbSession,
    region: str,
    week: str,
    plan: dict[str, Any],
    now: datetime,
    *,
    trigger: str = "",
    scenario: dict[str, Any] | None = None,
    hold: bool | None = None,
) -> PlanOutcome:
    """Store a plan (rotation-format plan document) as a new version for region + week.

    Unless held for approval (``hold``: None follows the region's setting, False publishes
    whatever the setting, True holds), it is published at once: its sessions become the
    sessions in force, all within the caller's transaction. A plan to publish whose
    sessions are those in force is stored as ``unchanged`` instead.
    """
    region_row = _region(db, region)
    calendar = region_calendar(region_row, week)
    sessions = [
        _checked_entry(entry, calendar, index)
        for index, entry in enumerate(plan.get("sessions", []))
    ]
    row = Plan(
        region_id=region,
        week=week,
        version=next_version(db, region, week),
        trigger=trigger,
        created_at=now,
        status=PlanStatus.HELD.value,
        stats=dict(plan.get("stats") or {}),
        unserved=list(plan.get("unserved") or []),
        sessions=sessions,
        scenario=scenario,
    )
    held = region_row.hold_plans_for_approval if hold is None else hold
    if not held and _same_as_in_force(db, region, week, sessions):
        row.status = PlanStatus.UNCHANGED.value
        db.add(row)
        db.flush()
        log.info(
            "plan %s %s v%d: same sessions as the plan in force, not published",
            region,
            week,
            row.version,
        )
        return PlanOutcome(row, published=False, unchanged=True)
    db.add(row)
    db.flush()
    if held:
        log.info("plan %s %s v%d held for approval", region, week, row.version)
        return PlanOutcome(row, published=False)
    return _publish(db, row, region_row, calendar, now)


def _same_as_in_force(
    db: DbSession, region: str, week: str, entries: Sequence[dict[str, Any]]
) -> bool:
    """Would publishing these sessions change nothing for anyone (same sessions, none of
    the plan in force cancelled since)?"""
    if plan_in_force_id(db, region, week) is None:
        return False
    rows = db.exec(
        select(Session).where(
            Session.region_id == region, Session.week == week, col(Session.in_force).is_(True)
        )
    ).all()
    if any(r.state == SessionState.CANCELLED.value for r in rows):
        return False  # cancelled since the last publish: the drivers must be told
    wanted = {
        SessionIdentity(region, week, e["vehicle"], e["site"], e["day"], e["slot"]) for e in entries
    }
    return wanted == {identity_of(r) for r in rows}


def publish_plan(db: DbSession, plan_id: int, now: datetime) -> PlanOutcome:
    """Put a held plan in force (a dispatcher's approval)."""
    row = db.get(Plan, plan_id)
    if row is None:
        raise UnknownReference(f"plan: no plan {plan_id}")
    if row.status != PlanStatus.HELD.value:
        raise DomainError(f"plan: plan {plan_id} is {row.status}, not held")
    region_row = _region(db, row.region_id)
    newer = db.exec(
        select(Plan.id).where(
            Plan.region_id == row.region_id,
            Plan.week == row.week,
            Plan.status == PlanStatus.PUBLISHED.value,
            col(Plan.version) > row.version,
        )
    ).first()
    if newer is not None:
        raise DomainError(f"plan: a newer version of {row.region_id} {row.week} is in force")
    return _publish(db, row, region_row, region_calendar(region_row, row.week), now)


def _checked_entry(entry: dict[str, Any], calendar: WeekCalendar, index: int) -> dict[str, Any]:
    where = f"sessions[{index}]"
    try:
        vehicle, site, day, slot = entry["vehicle"], entry["site"], entry["day"], entry["slot"]
    except (KeyError, TypeError) as exc:
        raise DomainError(f"{where}: needs vehicle, site, day and slot") from exc
    if not isinstance(day, int) or isinstance(day, bool):
        raise DomainError(f"{where}.day: {day!r} is not an integer")
    try:
        calendar.bounds(day, str(slot))
    except DomainError as exc:
        raise DomainError(f"{where}.{exc}") from exc
    return {"vehicle": str(vehicle), "site": str(site), "day": day, "slot": str(slot)}


def _publish(
    db: DbSession, row: Plan, region: Region, calendar: WeekCalendar, now: datetime
) -> PlanOutcome:
    stored = {
        identity_of(s): s
        for s in db.exec(
            select(Session).where(Session.region_id == row.region_id, Session.week == row.week)
        )
    }
    before = {ident for ident, s in stored.items() if s.in_force}
    headcounts = plan_headcounts(row.scenario)
    wanted: set[SessionIdentity] = set()
    for entry in row.sessions:
        ident = SessionIdentity(
            row.region_id, row.week, entry["vehicle"], entry["site"], entry["day"], entry["slot"]
        )
        wanted.add(ident)
        start, end = calendar.bounds(ident.day, ident.slot)
        session = stored.get(ident)
        if session is None:
            session = Session(
                region_id=ident.region,
                week=ident.week,
                vehicle_id=ident.vehicle,
                site_id=ident.site,
                day=ident.day,
                slot=ident.slot,
                date=calendar.date_of(ident.day),
                start=start,
                end=end,
            )
            stored[ident] = session
        elif session.state == SessionState.CANCELLED.value:
            change_state(session, SessionState.PLANNED)
        session.in_force = True
        session.plan_id = row.id
        session.plan_version = row.version
        session.start, session.end = start, end
        session.date = calendar.date_of(ident.day)
        session.headcount_used = headcounts.get(ident.site, session.headcount_used)
        db.add(session)
    for ident in before - wanted:
        session = stored[ident]
        state = state_after_removal(SessionState(session.state))
        change_state(session, state)
        session.in_force = state is not SessionState.CANCELLED
        db.add(session)
    for older in db.exec(
        select(Plan).where(
            Plan.region_id == row.region_id,
            Plan.week == row.week,
            Plan.status == PlanStatus.PUBLISHED.value,
            Plan.id != row.id,
        )
    ):
        older.status = PlanStatus.SUPERSEDED.value
        db.add(older)
    row.status = PlanStatus.PUBLISHED.value
    row.published_at = now
    db.add(row)
    db.flush()
    after = {ident for ident, s in stored.items() if s.in_force}
    notify_published(
        db,
        row,
        [stored[i] for i in sorted(after - before)],
        [stored[i] for i in sorted(before - after)],
        calendar.tz,
        now,
    )
    assignments: dict[str, VehicleAssignments] = {}
    for vehicle, (added, removed) in plan_changes(before, after).items():
        assignments[vehicle] = VehicleAssignments(
            vehicle,
            added=[session_json(stored[i], calendar) for i in added],
            removed=[session_json(stored[i], calendar) for i in removed],
        )
    visits: dict[str, SiteVisitChanges] = {}
    for site, (added, removed) in site_changes(before, after).items():
        visits[site] = SiteVisitChanges(
            site,
            added=[session_json(stored[i], calendar) for i in added],
            removed=[session_json(stored[i], calendar) for i in removed],
        )
    # the workers' bookings follow these (the worker's agent, ``fleet.bookings``)
    outbox.enqueue(db, site_visit_messages(row, visits), WallClock().now())
    log.info(
        "plan %s %s v%d in force: %d sessions, %d vehicles and %d sites changed",
        row.region_id,
        row.week,
        row.version,
        len(after),
        len(assignments),
        len(visits),
    )
    return PlanOutcome(row, published=True, assignments=assignments, visits=visits)


def site_visit_messages(row: Plan, visits: dict[str, SiteVisitChanges]) -> list[outbox.Message]:
    """``rvrota.site-visits``, one per changed site, for the outbox of the publish's
    transaction (the API's relay produces them, whichever process published)."""
    return [
        outbox.Message(
            events.SITE_VISITS_TOPIC,
            site,
            events.SiteVisits(
                site_id=site,
                region=row.region_id,
                week=row.week,
                version=row.version,
                added=change.added,
                removed=change.removed,
            ).to_bytes(),
        )
        for site, change in sorted(visits.items())
    ]


# --- queries ---------------------------------------------------------------------------------


def plan_in_force(db: DbSession, region: str, week: str) -> Plan | None:
    """The published plan of region + week (the newest published version)."""
    plan: Plan | None = db.exec(_in_force(select(Plan), region, week)).first()
    return plan


def plan_in_force_id(db: DbSession, region: str, week: str) -> int | None:
    """The id of ``plan_in_force``, without loading the plan (its scenario is large)."""
    plan_id: int | None = db.exec(_in_force(select(Plan.id), region, week)).first()
    return plan_id


def plan_in_force_version(db: DbSession, region: str, week: str) -> int | None:
    """The version of ``plan_in_force``, without loading the plan."""
    version: int | None = db.exec(_in_force(select(Plan.version), region, week)).first()
    return version


def _in_force(query: Any, region: str, week: str) -> Any:
    return (
        query.where(
            Plan.region_id == region,
            Plan.week == week,
            Plan.status == PlanStatus.PUBLISHED.value,
        )
        .order_by(col(Plan.version).desc())
        .limit(1)
    )


def latest_plan(db: DbSession, region: str, week: str) -> Plan | None:
    """The newest version of region + week, held or published."""
    plan: Plan | None = db.exec(_latest(select(Plan), region, week)).first()
    return plan


def latest_plan_key(db: DbSession, region: str, week: str) -> tuple[int, int, str] | None:
    """(id, version, status) of ``latest_plan``, without loading the plan document."""
    row = db.exec(_latest(select(Plan.id, Plan.version, Plan.status), region, week)).first()
    return (int(row[0]), int(row[1]), str(row[2])) if row is not None else None


def _latest(query: Any, region: str, week: str) -> Any:
    return (
        query.where(Plan.region_id == region, Plan.week == week)
        .order_by(col(Plan.version).desc())
        .limit(1)
    )


def get_plan(db: DbSession, plan_id: int) -> Plan | None:
    return db.get(Plan, plan_id)


def get_session(db: DbSession, session_id: int) -> Session | None:
    return db.get(Session, session_id)


def sessions_in_force(
    db: DbSession,
    region: str,
    week: str,
    *,
    vehicles: Sequence[str] | None = None,
    sites: Sequence[str] | None = None,
    include_cancelled: bool = False,
) -> list[Session]:
    """The weekly rotation: sessions in force, sorted by vehicle, day and start."""
    query = select(Session).where(
        Session.region_id == region, Session.week == week, col(Session.in_force).is_(True)
    )
    if not include_cancelled:
        query = query.where(Session.state != SessionState.CANCELLED.value)
    if vehicles is not None:
        query = query.where(col(Session.vehicle_id).in_(list(vehicles)))
    if sites is not None:
        query = query.where(col(Session.site_id).in_(list(sites)))
    query = query.order_by(col(Session.vehicle_id), col(Session.day), col(Session.start))
    return list(db.exec(query))


def forbidden_sessions(db: DbSession, region: str, week: str) -> list[Session]:
    """The week's sessions taken out by hand (its ``forbidden`` list), in identity order."""
    query = (
        select(Session)
        .where(Session.region_id == region, Session.week == week, col(Session.forbidden).is_(True))
        .order_by(
            col(Session.vehicle_id), col(Session.day), col(Session.slot), col(Session.site_id)
        )
    )
    return list(db.exec(query))


class ScheduleRow(NamedTuple):
    """A session of the weekly schedule as read for the API (columns, not an ORM object)."""

    id: int
    region_id: str
    week: str
    vehicle_id: str
    site_id: str
    site_name: str | None
    day: int
    date: date
    slot: str
    start: datetime
    end: datetime
    pinned: bool
    state: str
    headcount_used: int | None

    @classmethod
    def of(cls, session: Session, site_name: str | None) -> ScheduleRow:
        """The row of a session already loaded (as ``week_schedule`` would read it)."""
        assert session.id is not None
        return cls(
            session.id,
            session.region_id,
            session.week,
            session.vehicle_id,
            session.site_id,
            site_name,
            session.day,
            session.date,
            session.slot,
            session.start,
            session.end,
            session.pinned,
            session.state,
            session.headcount_used,
        )


def week_schedule(
    db: DbSession,
    region: str,
    week: str,
    *,
    vehicles: Sequence[str] | None = None,
    sites: Sequence[str] | None = None,
) -> list[ScheduleRow]:
    """The weekly schedule as seen by a caller limited to some vehicles or sites: the
    sessions in force (cancelled ones left out) with their sites' names, by vehicle, day
    and start.

    The filter and order of ``sessions_in_force``, read as columns instead of whole ORM
    objects, by a statement built once per kind of filter: boards and phones poll the
    schedule, and this keeps it within its budget.
    """
    params: dict[str, Any] = {"region": region, "week": week}
    if vehicles is not None:
        params["vehicles"] = list(vehicles)
    if sites is not None:
        params["sites"] = list(sites)
    query = _week_schedule_query(vehicles is not None, sites is not None)
    return [ScheduleRow(*row) for row in db.execute(query, params).all()]


@lru_cache(maxsize=4)
def _week_schedule_query(by_vehicles: bool, by_sites: bool) -> Any:
    """Built once per kind of filter: building the statement costs more than running it."""
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
        .where(Session.region_id == bindparam("region"), Session.week == bindparam("week"))
        .where(col(Session.in_force).is_(True), Session.state != SessionState.CANCELLED.value)
    )
    if by_vehicles:
        query = query.where(col(Session.vehicle_id).in_(bindparam("vehicles", expanding=True)))
    if by_sites:
        query = query.where(col(Session.site_id).in_(bindparam("sites", expanding=True)))
    return query.order_by(col(Session.vehicle_id), col(Session.day), col(Session.start))


def session_marks(db: DbSession, region: str, week: str) -> list[tuple[Any, ...]]:
    """Every stored session of region + week as (id, pinned, state, in force), by id: what
    a board's fingerprint covers."""
    query = (
        select(Session.id, Session.pinned, Session.state, Session.in_force)
        .where(Session.region_id == region, Session.week == week)
        .order_by(col(Session.id))
    )
    return [tuple(row) for row in db.exec(query).all()]


def _active() -> Any:
    return col(Session.state).in_([s.value for s in ACTIVE_STATES])


def upcoming_site_sessions(
    db: DbSession, site_id: str, now: datetime, limit: int = 50
) -> list[Session]:
    """Sessions at a site that have not ended yet, soonest first."""
    return _upcoming(db, col(Session.site_id) == site_id, now, limit)


def upcoming_vehicle_sessions(
    db: DbSession, vehicle_id: str, now: datetime, limit: int = 50
) -> list[Session]:
    """A vehicle's sessions that have not ended yet, soonest first."""
    return _upcoming(db, col(Session.vehicle_id) == vehicle_id, now, limit)


def _upcoming(db: DbSession, whose: Any, now: datetime, limit: int) -> list[Session]:
    query = (
        select(Session)
        .where(whose, col(Session.in_force).is_(True), _active())
        .where(col(Session.end) > now)
        .order_by(col(Session.start))
        .limit(limit)
    )
    return list(db.exec(query))


class NextStop(NamedTuple):
    """A vehicle's next session with its site and the region's time zone (one read)."""

    id: int
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
        .where(_active())
        .where(col(Session.end) > bindparam("now"))
        .order_by(col(Session.start))
        .limit(1)
    )


def next_stop(db: DbSession | Connection, vehicle_id: str, now: datetime) -> NextStop | None:
    """The vehicle's next session not yet ended (the one under way, else the next one),
    with its site and time zone; one read of columns (the hot path of drivers' phones,
    also on a plain connection)."""
    row = db.execute(_next_stop_query(), {"vehicle_id": vehicle_id, "now": now}).first()
    return NextStop(*row) if row is not None else None


def set_pinned(db: DbSession, session_id: int, pinned: bool) -> Session:
    """A dispatcher pins (or unpins) a session: re-plans must keep a pinned session."""
    session = db.get(Session, session_id)
    if session is None:
        raise UnknownReference(f"session: no session {session_id}")
    if pinned and session.state == SessionState.CANCELLED.value:
        raise DomainError(f"pinned: session {session_id} is cancelled")
    session.pinned = pinned
    db.add(session)
    db.flush()
    return session


def confirm_session(db: DbSession, session_id: int) -> Session:
    session = db.get(Session, session_id)
    if session is None:
        raise UnknownReference(f"session: no session {session_id}")
    if session.state != SessionState.PLANNED.value:
        raise DomainError(f"state: session {session_id} is {session.state}, not planned")
    change_state(session, SessionState.CONFIRMED)
    db.add(session)
    db.flush()
    return session


def confirm_sessions(db: DbSession, sessions: Iterable[Session]) -> int:
    """Confirm the planned ones among ``sessions`` (the lock-in horizon reached them)."""
    count = 0
    for session in sessions:
        if session.state == SessionState.PLANNED.value:
            change_state(session, SessionState.CONFIRMED)
            db.add(session)
            count += 1
    db.flush()
    return count


def confirm_upcoming(db: DbSession, now: datetime, until: datetime) -> int:
    """Confirm every planned session in force that starts after ``now`` and by ``until``."""
    query = select(Session).where(
        col(Session.in_force).is_(True),
        Session.state == SessionState.PLANNED.value,
        col(Session.start) > now,
        col(Session.start) <= until,
    )
    return confirm_sessions(db, list(db.exec(query)))


def start_current_session(db: DbSession, vehicle_id: str, at: datetime) -> Session | None:
    """The driver reports "on site": the vehicle's current session goes in progress.

    The current session is the earliest one in force, planned or confirmed, that has not
    ended at ``at`` and starts within ARRIVAL_LEAD. A session already in progress is
    returned unchanged (a repeated report); None when there is no such session.
    """
    query = (
        select(Session)
        .where(Session.vehicle_id == vehicle_id, col(Session.in_force).is_(True), _active())
        .where(col(Session.end) > at)
        .where(col(Session.start) <= at + ARRIVAL_LEAD)
        .order_by(col(Session.start))
        .limit(1)
    )
    session = db.exec(query).first()
    if session is None:
        return None
    if change_state(session, SessionState.IN_PROGRESS):
        session.started_at = at
        db.add(session)
        db.flush()
    return session


def finish_session(db: DbSession, vehicle_id: str, at: datetime) -> Session | None:
    """The driver reports "leaving" (en route): the session in progress is done."""
    query = (
        select(Session)
        .where(
            Session.vehicle_id == vehicle_id,
            Session.state == SessionState.IN_PROGRESS.value,
            col(Session.start) <= at + ARRIVAL_LEAD,
        )
        .order_by(col(Session.start).desc())
        .limit(1)
    )
    session = db.exec(query).first()
    if session is None:
        return None
    change_state(session, SessionState.DONE)
    session.finished_at = at
    db.add(session)
    db.flush()
    return session


def cancel_sessions(db: DbSession, sessions: Iterable[Session]) -> list[Session]:
    """Cancel the given sessions (kept in force, so the next plan reports them removed)."""
    cancelled = []
    for session in sessions:
        if session.state in (SessionState.IN_PROGRESS.value, SessionState.DONE.value):
            continue
        change_state(session, SessionState.CANCELLED)
        session.pinned = False
        db.add(session)
        cancelled.append(session)
    db.flush()
    return cancelled


def finish_ended_sessions(db: DbSession, now: datetime) -> int:
    """Sessions still in progress after their slot's end are done at the slot's end."""
    query = select(Session).where(
        Session.state == SessionState.IN_PROGRESS.value, col(Session.end) <= now
    )
    count = 0
    for session in db.exec(query):
        change_state(session, SessionState.DONE)
        session.finished_at = session.end
        db.add(session)
        count += 1
    db.flush()
    return count


def mark_missed_sessions(db: DbSession, now: datetime) -> int:
    """Sessions in force whose slot ended while they were still planned or confirmed
    (nobody reported arriving) never happened: they are missed."""
    query = select(Session).where(
        col(Session.in_force).is_(True),
        col(Session.state).in_([SessionState.PLANNED.value, SessionState.CONFIRMED.value]),
        col(Session.end) <= now,
    )
    count = 0
    for session in db.exec(query):
        change_state(session, SessionState.MISSED)
        db.add(session)
        count += 1
    db.flush()
    return count


FEED_PAST = timedelta(days=14)
FEED_CANCELLED = timedelta(days=7)


def feed_sessions(
    db: DbSession,
    now: datetime,
    *,
    vehicle_id: str | None = None,
    site_id: str | None = None,
    limit: int = 1000,
) -> list[Session]:
    """What a calendar feed lists: a vehicle's or a site's sessions from two weeks back,
    done and missed ones included, and cancelled ones for 7 days after their date."""
    query = select(Session)
    if vehicle_id is not None:
        query = query.where(Session.vehicle_id == vehicle_id)
    if site_id is not None:
        query = query.where(Session.site_id == site_id)
    live = [s.value for s in SessionState if s is not SessionState.CANCELLED]
    query = query.where(
        or_(
            and_(
                col(Session.in_force).is_(True),
                col(Session.state).in_(live),
                col(Session.end) > now - FEED_PAST,
            ),
            and_(
                col(Session.state) == SessionState.CANCELLED.value,
                col(Session.end) > now - FEED_CANCELLED,
            ),
        )
    )
    query = query.order_by(col(Session.start), col(Session.id)).limit(limit)
    return list(db.exec(query))


# States of a session that count as a visit of its site before a week: it happened or is
# under way; a planned or confirmed one counts while it is still to come (missed and
# cancelled ones never count).
_VISITED = (SessionState.DONE.value, SessionState.IN_PROGRESS.value)
_EXPECTED = (SessionState.PLANNED.value, SessionState.CONFIRMED.value)


def last_visit_dates(
    db: DbSession, site_ids: Sequence[str], before: date, now: datetime
) -> dict[str, date]:
    """Per site, the date of its last session before ``before``, however long ago.

    Sessions done or under way count; planned or confirmed ones count only while in force
    and not yet started at ``now`` (a past one that was never reported did not happen).
    """
    if not site_ids:
        return {}
    happened = col(Session.state).in_(_VISITED)
    expected = and_(
        col(Session.state).in_(_EXPECTED), col(Session.in_force).is_(True), col(Session.start) > now
    )
    query = (
        select(Session.site_id, func.max(Session.date))
        .where(col(Session.site_id).in_(list(site_ids)), Session.date < before)
        .where(or_(happened, expected))
        .group_by(col(Session.site_id))
    )
    return {site_id: day for site_id, day in db.exec(query) if day is not None}
