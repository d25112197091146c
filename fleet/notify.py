"""Everyone told: each published change to a vehicle's or a site's upcoming sessions
becomes a notification for the people bound to it (the vehicle's drivers, the site's
managers), written in the transaction that publishes the plan, so nobody is told of a
plan that did not take effect and nobody is missed.

The in-app list (``GET /me/notifications``) reads these rows. Other channels (SMS;
WeChat next) deliver the same rows to the users who asked for them:
``fleet.channels`` (the ``DeliveryChannel`` interface, the SMS gateway, retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from fleet.db import DbSession
from fleet.models import Notification, Plan, Session, Site, User, UserSite


def change_entry(session: Session, site_name: str | None, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "vehicle": session.vehicle_id,
        "site": session.site_id,
        "site_name": site_name,
        "date": session.date.isoformat(),
        "slot": session.slot,
        "start": session.start.astimezone(tz).isoformat(),
        "end": session.end.astimezone(tz).isoformat(),
    }


def notify_published(
    db: DbSession,
    plan: Plan,
    added: Iterable[Session],
    removed: Iterable[Session],
    tz: ZoneInfo,
    now: datetime,
) -> list[Notification]:
    """Notifications of a plan put in force, for changes to sessions not yet ended."""
    new = [s for s in added if s.end > now]
    gone = [s for s in removed if s.end > now]
    if not new and not gone:
        return []
    site_ids = sorted({s.site_id for s in new + gone})
    names = {s.id: s.name for s in db.exec(select(Site).where(col(Site.id).in_(site_ids))).all()}
    groups: dict[tuple[str, str], tuple[list[Session], list[Session]]] = {}
    for session in new:
        groups.setdefault(("vehicle", session.vehicle_id), ([], []))[0].append(session)
        groups.setdefault(("site", session.site_id), ([], []))[0].append(session)
    for session in gone:
        groups.setdefault(("vehicle", session.vehicle_id), ([], []))[1].append(session)
        groups.setdefault(("site", session.site_id), ([], []))[1].append(session)
    drivers = _drivers(db, sorted({t for k, t in groups if k == "vehicle"}))
    managers = _managers(db, site_ids)
    out: list[Notification] = []
    for (kind, target), (plus, minus) in sorted(groups.items()):
        people = drivers.get(target, []) if kind == "vehicle" else managers.get(target, [])
        for user_id in people:
            note = Notification(
                user_id=user_id,
                created_at=now,
                kind=kind,
                target=target,
                region_id=plan.region_id,
                week=plan.week,
                plan_version=plan.version,
                reason=plan.trigger[:200],
                added=[change_entry(s, names.get(s.site_id), tz) for s in _ordered(plus)],
                removed=[change_entry(s, names.get(s.site_id), tz) for s in _ordered(minus)],
            )
            db.add(note)
            out.append(note)
    db.flush()
    return out


def _ordered(sessions: Iterable[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: (s.start, s.vehicle_id, s.site_id))


def _drivers(db: DbSession, vehicle_ids: Sequence[str]) -> dict[str, list[int]]:
    if not vehicle_ids:
        return {}
    query = select(User.id, User.vehicle_id).where(
        col(User.vehicle_id).in_(list(vehicle_ids)), col(User.disabled).is_(False)
    )
    found: dict[str, list[int]] = {}
    for user_id, vehicle_id in db.exec(query):
        if user_id is not None and vehicle_id is not None:
            found.setdefault(vehicle_id, []).append(user_id)
    return found


def _managers(db: DbSession, site_ids: Sequence[str]) -> dict[str, list[int]]:
    if not site_ids:
        return {}
    query = (
        select(UserSite.site_id, UserSite.user_id)
        .join(User, col(User.id) == col(UserSite.user_id))
        .where(col(UserSite.site_id).in_(list(site_ids)), col(User.disabled).is_(False))
    )
    found: dict[str, list[int]] = {}
    for site_id, user_id in db.exec(query):
        found.setdefault(site_id, []).append(user_id)
    return found


def notifications_of(
    db: DbSession, user_id: int, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """A user's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    query = query.order_by(col(Notification.id).desc()).limit(limit)
    return list(db.exec(query))


def unread_count(db: DbSession, user_id: int) -> int:
    query = select(Notification.id).where(
        Notification.user_id == user_id, col(Notification.read_at).is_(None)
    )
    return len(db.exec(query).all())


def newest_id(db: DbSession, user_id: int) -> int:
    query = (
        select(Notification.id)
        .where(Notification.user_id == user_id)
        .order_by(col(Notification.id).desc())
        .limit(1)
    )
    return int(db.exec(query).first() or 0)


def mark_read(db: DbSession, user_id: int, now: datetime, up_to: int | None = None) -> int:
    """Mark the user's unread notifications (up to id ``up_to``) read; how many."""
    query = select(Notification).where(
        Notification.user_id == user_id, col(Notification.read_at).is_(None)
    )
    if up_to is not None:
        query = query.where(col(Notification.id) <= up_to)
    count = 0
    for note in db.exec(query):
        note.read_at = now
        db.add(note)
        count += 1
    db.flush()
    return count
