"""What changed since you last looked: the caller's notifications, and marking them read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import schemas
from api.deps import CurrentUser, DbDep, ServicesDep
from fleet import notify
from fleet.db import session_scope
from fleet.models import Notification

router = APIRouter(tags=["notifications"])
POLL_SECONDS = 1.0
# each server-sent event: ``event`` hello / changed, ``data`` JSON {"newest": id}
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
KEEPALIVE_SECONDS = 15.0

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
    up_to: int | None = Field(
        None, ge=1, le=2_147_483_647, description="mark read up to this id; default: all"
    )


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


@router.get(
    "/me/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}}},
)
async def my_stream(
    services: ServicesDep,
    principal: CurrentUser,
    request: Request,
    max_seconds: int = Query(300, ge=1, le=3600, description="the stream ends after this"),
) -> StreamingResponse:
    """Server-sent events: ``changed`` as soon as a new notification is there for the caller
    (a page reloads what it shows), ``hello`` first; reconnect when the stream ends."""
    user_id = principal.user_id

    def newest() -> int:
        with session_scope(services.engine) as db:
            return notify.newest_id(db, user_id)

    async def stream() -> AsyncIterator[str]:
        last = await run_in_threadpool(newest)
        yield f"event: hello\ndata: {json.dumps({'newest': last})}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        quiet_since = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            if await request.is_disconnected():
                return
            current = await run_in_threadpool(newest)
            if current != last:
                last = current
                quiet_since = loop.time()
                yield f"event: changed\ndata: {json.dumps({'newest': current})}\n\n"
            elif loop.time() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = loop.time()
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
