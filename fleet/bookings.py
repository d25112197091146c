"""Workers' bookings of an RV's rooms at a session, and how they follow the plan.

``book`` takes a place only while one is left: it locks the session's row (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite: the write lock from ``BEGIN IMMEDIATE``) before it
counts the places taken, so concurrent bookers of the last place are served one after
the other and never oversell. Bookings follow the plan through ``rvrota.site-visits``
(the stream worker's ``follow-site-visits`` agent calls ``follow_site_visits``, once per
message): a booking of a session the plan removed moves to the plan's new session of the
same site nearest in time whose vehicle has the amenity and a place left, and is cancelled
otherwise; either way its ``notice`` tells the worker. What the message names is read
against the sessions as they are when it is applied: a removed session that a later plan
brought back keeps its bookings, and an added one that a later plan dropped takes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from fleet import events
from fleet.booking_rules import BOOKABLE, DEFAULT_CAPACITY, capacity_problem, nearest, place_at
from fleet.booking_rules import places_of as rule_places
from fleet.db import DbSession, begin_write
from fleet.domain import SessionState
from fleet.models import AmenityCapacity, Booking, Session, Site, Vehicle
from fleet.reports import mark_processed

BOOKED = "booked"
CANCELLED = "cancelled"
NOTICE_MOVED = "moved"
NOTICE_CANCELLED = "cancelled"
CLOSED_STATES = frozenset(
    {SessionState.CANCELLED.value, SessionState.MISSED.value, SessionState.DONE.value}
)


class BookingRefused(Exception):
    """A booking that cannot be made: the field at fault, a code and the reason.

    Codes: ``unknown`` (no such session in force), ``closed`` (cancelled, over, or the
    place has ended), ``amenity``, ``block``, ``full``, ``already`` (this phone holds a
    place of that amenity at that session).
    """

    def __init__(self, field: str, code: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.code = code
        self.reason = reason


# --- capacities ------------------------------------------------------------------------------


def capacities(db: DbSession, vehicle: Vehicle) -> dict[str, int]:
    """The capacity of each bookable amenity of the vehicle (set, or the default)."""
    rows = db.exec(select(AmenityCapacity).where(AmenityCapacity.vehicle_id == vehicle.id)).all()
    set_ = {r.amenity: r.capacity for r in rows}
    return {
        str(a): set_.get(str(a), DEFAULT_CAPACITY[str(a)])
        for a in sorted(vehicle.amenities or [])
        if str(a) in BOOKABLE
    }


def capacity_of(db: DbSession, vehicle_id: str, amenity: str) -> int:
    row = db.get(AmenityCapacity, (vehicle_id, amenity))
    return row.capacity if row is not None else DEFAULT_CAPACITY.get(amenity, 0)


def set_capacities(db: DbSession, vehicle: Vehicle, wanted: dict[str, int]) -> dict[str, int]:
    """Set capacities of the vehicle's amenities; raises BookingRefused naming the amenity."""
    offered = {str(a) for a in vehicle.amenities or []}
    for amenity, capacity in wanted.items():
        if amenity not in offered:
            raise BookingRefused(amenity, "amenity", f"{vehicle.id} has no {amenity!r}")
        problem = capacity_problem(amenity, capacity)
        if problem is not None:
            raise BookingRefused(amenity, "amenity", problem)
    for amenity, capacity in wanted.items():
        row = db.get(AmenityCapacity, (vehicle.id, amenity))
        if row is None:
            row = AmenityCapacity(vehicle_id=vehicle.id, amenity=amenity, capacity=capacity)
        row.capacity = capacity
        db.add(row)
    db.flush()
    return capacities(db, vehicle)


# --- places ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A bookable place of a session and how many of it are taken."""

    amenity: str
    block: int
    start: datetime
    end: datetime
    capacity: int
    booked: int

    @property
    def left(self) -> int:
        return max(self.capacity - self.booked, 0)


def _taken(db: DbSession, session_ids: Sequence[int]) -> dict[tuple[int, str, int], int]:
    if not session_ids:
        return {}
    rows = db.exec(
        select(Booking.session_id, Booking.amenity, Booking.block, func.count())
        .where(col(Booking.session_id).in_(list(session_ids)), Booking.state == BOOKED)
        .group_by(col(Booking.session_id), col(Booking.amenity), col(Booking.block))
    ).all()
    return {(int(s), str(a), int(b)): int(n) for s, a, b, n in rows}


def session_places(db: DbSession, sessions: Sequence[Session]) -> dict[int, list[Place]]:
    """Every bookable place of each session, with its capacity and the places taken."""
    ids = [int(s.id) for s in sessions if s.id is not None]
    taken = _taken(db, ids)
    vehicles: dict[str, dict[str, int]] = {}
    out: dict[int, list[Place]] = {}
    for session in sessions:
        if session.id is None:
            continue
        if session.vehicle_id not in vehicles:
            vehicle = db.get(Vehicle, session.vehicle_id)
            vehicles[session.vehicle_id] = capacities(db, vehicle) if vehicle else {}
        out[session.id] = [
            Place(
                p.amenity,
                p.block,
                p.start,
                p.end,
                capacity,
                taken.get((session.id, p.amenity, p.block), 0),
            )
            for amenity, capacity in vehicles[session.vehicle_id].items()
            for p in rule_places(amenity, session.start, session.end)
        ]
    return out


# --- booking and cancelling ------------------------------------------------------------------


def _locked_session(db: DbSession, session_id: int) -> Session | None:
    begin_write(db)  # SQLite: the write lock first, so the count below cannot go stale
    return db.exec(select(Session).where(Session.id == session_id).with_for_update()).first()


def _count(db: DbSession, session_id: int, amenity: str, block: int) -> int:
    found = db.exec(
        select(func.count()).where(
            Booking.session_id == session_id,
            Booking.amenity == amenity,
            Booking.block == block,
            Booking.state == BOOKED,
        )
    ).one()
    return int(found)


def _holds(db: DbSession, session_id: int, amenity: str, device: str) -> bool:
    return (
        db.exec(
            select(Booking.id).where(
                Booking.session_id == session_id,
                Booking.amenity == amenity,
                Booking.active_device == device,
            )
        ).first()
        is not None
    )


def book(
    db: DbSession,
    *,
    session_id: int,
    amenity: str,
    block: int,
    device: str,
    member_no: str | None,
    now: datetime,
) -> Booking:
    """Take a place of ``amenity`` (block ``block``) at the session for this phone."""
    session = _locked_session(db, session_id)
    if session is None or not session.in_force:
        raise BookingRefused("session_id", "unknown", f"no session {session_id} in force")
    if session.state in CLOSED_STATES or session.forbidden:
        raise BookingRefused("session_id", "closed", f"the session is {session.state}")
    vehicle = db.get(Vehicle, session.vehicle_id)
    offered = {str(a) for a in (vehicle.amenities if vehicle else [])}
    if amenity not in offered or amenity not in BOOKABLE:
        bookable = sorted(offered & BOOKABLE)
        raise BookingRefused(
            "amenity", "amenity", f"{amenity!r} is not bookable here (only: {', '.join(bookable)})"
        )
    place = place_at(amenity, block, session.start, session.end)
    if place is None:
        count = len(rule_places(amenity, session.start, session.end))
        raise BookingRefused("block", "block", f"must be 0..{count - 1} for {amenity}")
    if now >= place.end:
        raise BookingRefused("block", "closed", "this place is over")
    if _holds(db, session_id, amenity, device):
        raise BookingRefused("device", "already", f"this phone already holds a {amenity} place")
    capacity = capacity_of(db, session.vehicle_id, amenity)
    if _count(db, session_id, amenity, block) >= capacity:
        raise BookingRefused("block", "full", f"all {capacity} places are taken")
    row = Booking(
        session_id=session_id,
        amenity=amenity,
        block=block,
        device=device,
        active_device=device,
        member_no=member_no,
        state=BOOKED,
        created_at=now,
        changed_at=now,
    )
    db.add(row)
    db.flush()
    return row


def cancel(db: DbSession, booking_id: int, device: str, now: datetime) -> Booking | None:
    """The phone's own booking cancelled (None when it holds no such booking)."""
    row = db.get(Booking, booking_id)
    if row is None or row.device != device:
        return None
    if row.state == BOOKED:
        row.state = CANCELLED
        row.active_device = None
        row.changed_at = now
        db.add(row)
        db.flush()
    return row


# --- what a phone and the staff see ----------------------------------------------------------


@dataclass(frozen=True)
class BookingView:
    """A booking as its worker sees it: where, when, and what the plan did to it."""

    booking: Booking
    session: Session
    site_name: str
    place_start: datetime
    place_end: datetime
    moved_from: Session | None


def device_bookings(db: DbSession, device: str, limit: int = 100) -> list[BookingView]:
    """The phone's bookings, newest first (the ones it cancelled too)."""
    rows = db.exec(
        select(Booking, Session, Site.name)
        .join(Session, col(Session.id) == col(Booking.session_id))
        .join(Site, col(Site.id) == col(Session.site_id))
        .where(Booking.device == device)
        .order_by(col(Booking.created_at).desc(), col(Booking.id).desc())
        .limit(limit)
    ).all()
    views = []
    for booking, session, name in rows:
        place = place_at(booking.amenity, booking.block, session.start, session.end)
        earlier = db.get(Session, booking.moved_from) if booking.moved_from else None
        views.append(
            BookingView(
                booking,
                session,
                str(name or session.site_id),
                place.start if place else session.start,
                place.end if place else session.end,
                earlier,
            )
        )
    return views


def session_counts(db: DbSession, session: Session) -> list[Place]:
    """The session's places and how many are taken (no phones, no member numbers)."""
    return session_places(db, [session]).get(int(session.id or 0), [])


# --- following the plan ----------------------------------------------------------------------


@dataclass
class Followed:
    moved: int = 0
    cancelled: int = 0
    again: bool = False  # the message had taken effect already (a redelivery)


def _named(
    db: DbSession, visits: events.SiteVisitsEvent, part: str, named: list[events.VisitedSession]
) -> list[Session]:
    """The rows of the sessions a message names, each checked against what it says."""
    rows: list[Session] = []
    for index, ref in enumerate(named):
        row = db.get(Session, ref.id)
        where = f"{part}.{index}"
        if row is None:
            raise events.EventRejected(f"{where}.id", f"no session {ref.id}")
        facts = (row.region_id, row.week, row.site_id, row.vehicle_id, row.day, row.slot)
        said = (visits.region, visits.week, ref.site, ref.vehicle, ref.day, ref.slot)
        if facts != said:
            raise events.EventRejected(
                f"{where}.id",
                f"session {ref.id} is {row.vehicle_id} at {row.site_id} on day {row.day} "
                f"({row.slot}) of {row.region_id} {row.week}, not what the message says",
            )
        rows.append(row)
    return rows


def follow_site_visits(
    db: DbSession, visits: events.SiteVisitsEvent, now: datetime, topic: str
) -> Followed:
    """Apply one ``rvrota.site-visits`` message to the bookings, once (by ``visit_id``);
    raises ``EventRejected`` naming the field (an unknown session, one that is not what the
    message says) before anything changed."""
    removed = _named(db, visits, "removed", visits.removed)
    added = _named(db, visits, "added", visits.added)
    if not mark_processed(db, topic, visits.visit_id, now):
        return Followed(again=True)
    gone = [s for s in removed if not s.in_force]
    open_ = [s for s in added if s.in_force and s.state not in CLOSED_STATES and not s.forbidden]
    return follow_plan(db, open_, gone, now)


def follow_plan(
    db: DbSession, added: Iterable[Session], removed: Iterable[Session], now: datetime
) -> Followed:
    """Move the bookings of sessions a published plan removed to its new sessions of the same
    site (nearest in time, the amenity offered, a place left), or cancel them."""
    outcome = Followed()
    gone = [s for s in removed if s.id is not None]
    if not gone:
        return outcome
    held = db.exec(
        select(Booking)
        .where(col(Booking.session_id).in_([s.id for s in gone]), Booking.state == BOOKED)
        .order_by(col(Booking.created_at), col(Booking.id))
    ).all()
    if not held:
        return outcome
    new = [s for s in added if s.id is not None and s.start > now]
    offered: dict[str, set[str]] = {}
    for s in new:
        if s.vehicle_id not in offered:
            vehicle = db.get(Vehicle, s.vehicle_id)
            offered[s.vehicle_id] = {str(a) for a in (vehicle.amenities if vehicle else [])}
    by_id = {int(s.id or 0): s for s in gone}
    targets = {int(s.id or 0): s for s in new}
    for target in sorted(targets):  # the places counted below cannot go stale
        db.exec(select(Session.id).where(Session.id == target).with_for_update()).first()
    for booking in held:
        old = by_id[booking.session_id]
        candidates = [
            (s.start, int(s.id or 0))
            for s in new
            if s.site_id == old.site_id and booking.amenity in offered[s.vehicle_id]
        ]
        target_id = _first_with_room(db, booking, old, candidates, targets)
        booking.changed_at = now
        if target_id is None:
            booking.state = CANCELLED
            booking.active_device = None
            booking.notice = NOTICE_CANCELLED
            outcome.cancelled += 1
        else:
            booking.moved_from = booking.session_id
            booking.session_id = target_id
            booking.notice = NOTICE_MOVED
            outcome.moved += 1
        db.add(booking)
        db.flush()
    return outcome


def _first_with_room(
    db: DbSession,
    booking: Booking,
    old: Session,
    candidates: list[tuple[datetime, int]],
    targets: dict[int, Session],
) -> int | None:
    left = list(candidates)
    while left:
        pick = nearest(old.start, left)
        assert pick is not None
        left = [c for c in left if c[1] != pick]
        target = targets[pick]
        if place_at(booking.amenity, booking.block, target.start, target.end) is None:
            continue
        if booking.device is not None and _holds(db, pick, booking.amenity, booking.device):
            continue
        capacity = capacity_of(db, target.vehicle_id, booking.amenity)
        if _count(db, pick, booking.amenity, booking.block) < capacity:
            return pick
    return None


@dataclass
class FollowBatch:
    """What a batch of ``rvrota.site-visits`` did: the rejected (index, reason), the
    bookings moved and cancelled, and the messages that had taken effect already."""

    rejected: list[tuple[int, events.EventRejected]] = field(default_factory=list)
    moved: int = 0
    cancelled: int = 0
    again: int = 0


def follow_site_visit_batch(
    db: DbSession, items: Sequence[events.SiteVisitsEvent], now: datetime, topic: str
) -> FollowBatch:
    """``follow_site_visits`` for each message in order (one site's in plan order)."""
    outcome = FollowBatch()
    for index, visits in enumerate(items):
        try:
            done = follow_site_visits(db, visits, now, topic)
        except events.EventRejected as exc:
            outcome.rejected.append((index, exc.kept()))
            continue
        outcome.moved += done.moved
        outcome.cancelled += done.cancelled
        outcome.again += int(done.again)
    return outcome
