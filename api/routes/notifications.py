"""What changed since you last looked: the caller's notifications, and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api import schemas
from api.deps import CurrentUser, DbDep, ServicesDep
from fleet import notify
from fleet.models import Notification

router = APIRouter(tags=["notifications"])

SLOT_TEXT = {"lunch": "午间 lunch", "evening": "晚间 evening"}


class ChangePublic(BaseModel):
    change: str = Field(description="added or removed")
    session_id: int | None
    vehicle: str
    site: str
    site_name: str | None
    date: str
    slot: str
    start: str
    end: str
    text: str = Field(description="the change in Chinese and English")


class NotificationPublic(BaseModel):
    id: int
    created_at: datetime
    kind: str = Field(description="vehicle or site")
    target: str
    region: str
    week: str
    plan_version: int
    reason: str
    title: str
    read: bool
    changes: list[ChangePublic]


class NotificationsPublic(BaseModel):
    unread: int
    items: list[NotificationPublic]


class MarkRead(schemas.Strict):
    up_to: int | None = Field(None, ge=1, description="mark read up to this id; default: all")


def _change(kind: str, entry: dict[str, Any]) -> ChangePublic:
    verb = "新增 Added" if kind == "added" else "取消 Cancelled"
    slot = SLOT_TEXT.get(str(entry["slot"]), str(entry["slot"]))
    where = entry.get("site_name") or entry["site"]
    when = f"{str(entry['date'])[5:]} {slot} {str(entry['start'])[11:16]}"
    return ChangePublic(
        change=kind,
        session_id=entry.get("session_id"),
        vehicle=str(entry["vehicle"]),
        site=str(entry["site"]),
        site_name=entry.get("site_name"),
        date=str(entry["date"]),
        slot=str(entry["slot"]),
        start=str(entry["start"]),
        end=str(entry["end"]),
        text=f"{verb} · {when} · {where} · RV {entry['vehicle']}",
    )


def notification_public(note: Notification) -> NotificationPublic:
    assert note.id is not None
    if note.kind == "vehicle":
        title = f"车辆 {note.target} 的安排有变 Your RV {note.target}'s stops changed"
    else:
        title = f"工地 {note.target} 的到访有变 Visits to site {note.target} changed"
    changes = [_change("added", e) for e in note.added] + [
        _change("removed", e) for e in note.removed
    ]
    return NotificationPublic(
        id=note.id,
        created_at=note.created_at,
        kind=note.kind,
        target=note.target,
        region=note.region_id,
        week=note.week,
        plan_version=note.plan_version,
        reason=note.reason,
        title=title,
        read=note.read_at is not None,
        changes=sorted(changes, key=lambda c: c.start),
    )


@router.get("/me/notifications", response_model=NotificationsPublic)
def my_notifications(
    principal: CurrentUser, db: DbDep, unread: bool = False
) -> NotificationsPublic:
    """Changes that touched the caller's vehicle or sites, newest first, with the reason."""
    items = notify.notifications_of(db, principal.user_id, unread_only=unread)
    return NotificationsPublic(
        unread=notify.unread_count(db, principal.user_id),
        items=[notification_public(n) for n in items],
    )


@router.post("/me/notifications/read", response_model=NotificationsPublic)
def mark_read(
    services: ServicesDep, principal: CurrentUser, db: DbDep, body: MarkRead
) -> NotificationsPublic:
    """Mark the caller's notifications read (all, or up to ``up_to``)."""
    notify.mark_read(db, principal.user_id, services.clock.now(), body.up_to)
    return NotificationsPublic(unread=notify.unread_count(db, principal.user_id), items=[])
