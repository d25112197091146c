"""Check-ins at sessions (``rvrota.checkins``): their window, and keeping each once.

A check-in names a session by its id (a string in the event, the session's integer id
in the database). ``persist_checkins`` keeps every accepted check-in once per
``event_id``; a QR check-in of a (session, device) already kept is a duplicate (one phone
counts once per session); what breaks a rule that needs the session (unknown session,
outside its window, an amenity the vehicle has not) is rejected by index, naming the
field, for the caller to dead-letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from fleet import throttle
from fleet.attendance import Place, WeightRules, within_circle
from fleet.db import DbSession
from fleet.events import (
    MAX_FUTURE_SECONDS,
    CheckinEvent,
    CheckinWindow,
    EventRejected,
    check_checkin,
)
from fleet.members import credit_checkins
from fleet.models import Checkin, Session, Vehicle

MAX_SESSION_ID = 2_147_483_647  # the id column is a 32-bit integer


def session_number(session_id: str) -> int | None:
    """The database id a check-in's ``session_id`` names, or None when it names none."""
    if not session_id.isascii() or not session_id.isdigit() or len(session_id) > 10:
        return None
    number = int(session_id)
    return number if 0 < number <= MAX_SESSION_ID else None


@dataclass(frozen=True)
class SessionWindow:
    """A session a check-in may name: its vehicle and its check-in window."""

    session_id: int
    vehicle_id: str
    site_id: str
    window: CheckinWindow


@dataclass(frozen=True)
class CheckinLimits:
    """How many check-ins one device and one session's token may send per minute."""

    device_per_minute: int
    session_per_minute: int


@dataclass(frozen=True)
class Throttled:
    """A check-in over a limit: the field to blame (``device``, ``token``) and the wait."""

    field: str
    wait: float


def counted_window(
    db: DbSession, device: str, session_id: int, limits: CheckinLimits, now: float
) -> Throttled | SessionWindow | None:
    """The first step of ``POST /checkins``, in the caller's (write) transaction: count the
    hit against the device and then the session's token (``fleet.throttle``, every replica
    shares the counts; ``now`` in seconds since the epoch), then read the session's window
    in one query. Throttled, the window, or None (no session in force)."""
    wait = throttle.hit(db, f"checkin-device:{device}", limits.device_per_minute, 60, now)
    if wait is not None:
        return Throttled("device", wait)
    wait = throttle.hit(db, f"checkin-token:{session_id}", limits.session_per_minute, 60, now)
    if wait is not None:
        return Throttled("token", wait)
    if not 0 < session_id <= MAX_SESSION_ID:
        return None
    row = db.execute(
        sa_select(
            col(Session.id),
            col(Session.vehicle_id),
            col(Session.site_id),
            col(Session.start),
            col(Session.end),
            col(Vehicle.amenities),
        )
        .join(Vehicle, col(Vehicle.id) == col(Session.vehicle_id), isouter=True)
        .where(col(Session.id) == session_id, col(Session.in_force).is_(True))
    ).first()
    if row is None:
        return None
    number, vehicle, site, start, end, amenities = row
    offered = frozenset(str(a) for a in (amenities or []))
    return SessionWindow(int(number), str(vehicle), str(site), CheckinWindow(start, end, offered))


def session_window(db: DbSession, session_id: str | int) -> SessionWindow | None:
    """The session (in force in a published plan) and its window, or None."""
    number = session_id if isinstance(session_id, int) else session_number(session_id)
    if number is None or not 0 < number <= MAX_SESSION_ID:
        return None
    row = db.get(Session, number)
    if row is None or not row.in_force or row.id is None:
        return None
    vehicle = db.get(Vehicle, row.vehicle_id)
    amenities = frozenset(str(a) for a in (vehicle.amenities if vehicle is not None else []))
    return SessionWindow(
        row.id, row.vehicle_id, row.site_id, CheckinWindow(row.start, row.end, amenities)
    )


@dataclass
class CheckinBatch:
    """What one batch of check-ins did."""

    new: list[CheckinEvent] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, EventRejected]] = field(default_factory=list)


def _insert_ignoring_duplicates(db: DbSession, rows: list[dict[str, Any]]) -> set[str]:
    if not rows:
        return set()
    table: Any = Checkin.__table__  # type: ignore[attr-defined]
    dialect = db.get_bind().dialect.name
    insert_fn: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert_fn(table).on_conflict_do_nothing().returning(table.c.event_id)
    return {str(row[0]) for row in db.execute(stmt, rows)}


def persist_checkins(
    db: DbSession,
    items: Sequence[CheckinEvent],
    received_at: datetime,
    now: datetime,
    *,
    max_future_seconds: int = MAX_FUTURE_SECONDS,
    points_per_checkin: int = 0,
) -> CheckinBatch:
    """Keep each check-in once; reject by index what breaks a rule of its session; credit
    ``points_per_checkin`` to the known members of the new QR check-ins."""
    batch = CheckinBatch()
    windows: dict[str, SessionWindow | None] = {}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, event in enumerate(items):
        if event.session_id not in windows:
            windows[event.session_id] = session_window(db, event.session_id)
        found = windows[event.session_id]
        if found is None:
            batch.rejected.append(
                (index, EventRejected("session_id", f"no session {event.session_id!r} in force"))
            )
            continue
        try:
            check_checkin(event, found.window, now, max_future_seconds=max_future_seconds)
        except EventRejected as exc:
            batch.rejected.append((index, exc.kept()))
            continue
        if event.event_id in seen:
            batch.duplicates += 1
            continue
        seen.add(event.event_id)
        rows.append(
            {
                "event_id": event.event_id,
                "session_id": found.session_id,
                "checked_in_at": event.checked_in_at,
                "amenity": event.amenity,
                "member_no": event.member_no,
                "device": event.device,
                "qr_device": event.device if event.source == "qr" else None,
                "source": event.source,
                "count": event.count,
                "received_at": received_at,
            }
        )
    # one statement per row: a (session, device) repeated inside the batch must not
    # make the whole insert conflict in one go on PostgreSQL
    inserted: set[str] = set()
    for row in rows:
        inserted |= _insert_ignoring_duplicates(db, [row])
    batch.new = [e for e in items if e.event_id in inserted and e.event_id in seen]
    batch.new = list({e.event_id: e for e in batch.new}.values())
    batch.duplicates += len(rows) - len(batch.new)
    credit_checkins(db, [e.event_id for e in batch.new], points_per_checkin, received_at)
    return batch


def person_visits(db: DbSession, session_id: int) -> int:
    """The person-visits kept for a session (QR check-ins and staff counts)."""
    counts = db.exec(select(Checkin.count).where(col(Checkin.session_id) == session_id)).all()
    return sum(int(c) for c in counts)


# --- what the workers and the union see ----------------------------------------------------


@dataclass(frozen=True)
class PublicVisit:
    """An upcoming visit as a site's workers see it: no contact data, no plate, no driver."""

    session_id: int
    date: str
    slot: str
    start: datetime
    end: datetime
    amenities: list[str]


def public_visits(db: DbSession, site_id: str, now: datetime, limit: int = 50) -> list[PublicVisit]:
    """The site's sessions in force that have not ended, soonest first (not cancelled)."""
    rows = db.exec(
        select(Session, Vehicle.amenities)
        .join(Vehicle, col(Vehicle.id) == col(Session.vehicle_id))
        .where(
            Session.site_id == site_id,
            col(Session.in_force).is_(True),
            col(Session.state).not_in(["cancelled", "missed"]),
            col(Session.end) > now,
        )
        .order_by(col(Session.start))
        .limit(limit)
    ).all()
    return [
        PublicVisit(
            session_id=int(row.id or 0),
            date=row.date.isoformat(),
            slot=row.slot,
            start=row.start,
            end=row.end,
            amenities=sorted(str(a) for a in (amenities or [])),
        )
        for row, amenities in rows
    ]


@dataclass
class ServiceReport:
    """Person-visits (QR check-ins and staff counts) of a region's sessions in a date range."""

    region: str
    date_from: str
    date_to: str
    person_visits: int = 0
    checkins: int = 0
    sessions_with_checkins: int = 0
    by_site: dict[str, int] = field(default_factory=dict)
    by_amenity: dict[str, int] = field(default_factory=dict)
    by_week: dict[str, int] = field(default_factory=dict)
    site_names: dict[str, str] = field(default_factory=dict)
    by_town: dict[str, int] = field(default_factory=dict)
    sites_reached: int = 0
    workers_reached: int = 0
    sites_overdue: list[str] = field(default_factory=list)
    region_sites: int = 0
    region_workers: int = 0
    workers_covered: int = 0
    covered_share: float = 0.0


NO_TOWN = ""
SERVED_STATES = ("done", "in_progress")
OVERDUE_DAYS = 7


def service_report(
    db: DbSession,
    region: str,
    date_from: date,
    date_to: date,
    *,
    real_size: int = 50,
    circle: WeightRules | None = None,
) -> ServiceReport:
    """Check-ins of the region's sessions dated ``date_from`` .. ``date_to`` (every state),
    by site, town, amenity and week; the sites reached (a check-in or a session held) and
    their workers (headcount); the sites of real size without a visit held or planned in
    the ``OVERDUE_DAYS`` up to ``date_to`` (overdue); the share of the region's workers
    covered: on a site within the ten-minute circle of a fixed shared home (``circle``)
    or visited (a visit held) in every week of the range."""
    from fleet.models import Site

    report = ServiceReport(region, date_from.isoformat(), date_to.isoformat())
    query = (
        sa_select(
            col(Checkin.count),
            col(Checkin.amenity),
            col(Session.id),
            col(Session.site_id),
            col(Session.week),
        )
        .join(Session, col(Session.id) == col(Checkin.session_id))
        .where(
            col(Session.region_id) == region,
            col(Session.date) >= date_from,
            col(Session.date) <= date_to,
        )
    )
    rows = db.execute(query).all()
    sessions: set[int] = set()
    for count, amenity, session_id, site_id, week in rows:
        n = int(count)
        report.person_visits += n
        report.checkins += 1
        sessions.add(int(session_id or 0))
        report.by_site[site_id] = report.by_site.get(site_id, 0) + n
        key = amenity or "none"
        report.by_amenity[key] = report.by_amenity.get(key, 0) + n
        report.by_week[week] = report.by_week.get(week, 0) + n
    report.sessions_with_checkins = len(sessions)
    if report.by_site:
        names = db.exec(select(Site.id, Site.name).where(col(Site.id).in_(list(report.by_site))))
        report.site_names = {str(i): str(n or i) for i, n in names}
    report.by_site = dict(sorted(report.by_site.items()))
    report.by_amenity = dict(sorted(report.by_amenity.items()))
    report.by_week = dict(sorted(report.by_week.items()))
    _reach(db, report, region, date_from, date_to, real_size)
    _coverage(db, report, region, date_from, date_to, circle or WeightRules())
    return report


def _coverage(
    db: DbSession,
    report: ServiceReport,
    region: str,
    date_from: date,
    date_to: date,
    rules: WeightRules,
) -> None:
    from datetime import timedelta

    from fleet.models import FixedHome, Region, Site

    sites = db.exec(select(Site).where(Site.region_id == region)).all()
    homes = [
        Place(h.id, h.lat, h.lon)
        for h in db.exec(select(FixedHome).where(FixedHome.region_id == region))
    ]
    row = db.get(Region, region)
    circuity = float((row.travel if row else {}).get("circuity", 1.3) or 1.3)
    near = within_circle([Place(s.id, s.lat, s.lon) for s in sites], homes, rules, circuity)
    weeks = []
    start = date_from
    while start <= date_to:
        weeks.append((start, min(start + timedelta(days=6), date_to)))
        start += timedelta(days=7)
    held = db.exec(
        select(col(Session.site_id), col(Session.date)).where(
            Session.region_id == region,
            col(Session.date) >= date_from,
            col(Session.date) <= date_to,
            col(Session.state).in_(SERVED_STATES),
        )
    ).all()
    visited: dict[str, set[int]] = {}
    for site_id, day in held:
        visited.setdefault(site_id, set()).add((day - date_from).days // 7)
    for site in sites:
        weekly = len(visited.get(site.id, set())) == len(weeks)
        if site.id in near or weekly:
            report.workers_covered += int(site.default_headcount or 0)
    if report.region_workers:
        report.covered_share = round(report.workers_covered / report.region_workers, 4)


def _reach(
    db: DbSession, report: ServiceReport, region: str, date_from: date, date_to: date, real: int
) -> None:
    from datetime import timedelta

    from fleet.models import Site

    sites = db.exec(
        select(Site.id, Site.name, Site.town, Site.default_headcount).where(
            Site.region_id == region
        )
    ).all()
    held = set(
        db.exec(
            select(Session.site_id).where(
                Session.region_id == region,
                col(Session.date) >= date_from,
                col(Session.date) <= date_to,
                col(Session.state).in_(SERVED_STATES),
            )
        ).all()
    )
    recent_from = date_to - timedelta(days=OVERDUE_DAYS - 1)
    visited = set(
        db.exec(
            select(Session.site_id).where(
                Session.region_id == region,
                col(Session.in_force).is_(True),
                col(Session.date) >= recent_from,
                col(Session.date) <= date_to,
                col(Session.state).not_in(["cancelled", "missed"]),
            )
        ).all()
    )
    towns: dict[str, int] = {}
    for site_id, name, town, headcount in sites:
        report.region_sites += 1
        report.region_workers += int(headcount or 0)
        n = report.by_site.get(site_id, 0)
        if n:
            key = town or NO_TOWN
            towns[key] = towns.get(key, 0) + n
        if n or site_id in held:
            report.sites_reached += 1
            report.workers_reached += int(headcount or 0)
            report.site_names.setdefault(site_id, str(name or site_id))
        if int(headcount or 0) >= real and site_id not in visited:
            report.sites_overdue.append(site_id)
            report.site_names.setdefault(site_id, str(name or site_id))
    report.by_town = dict(sorted(towns.items()))
    report.sites_overdue.sort()
