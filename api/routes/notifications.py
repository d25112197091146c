"""What changed since you last looked: the caller's notifications, and marking them read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import schemas
from api.deps import CurrentUser, DbDep, Language, ServicesDep
from fleet import notify, registry
from fleet.cause_words import cause_text
from fleet.db import session_scope
from fleet.messages import LANGUAGES, in_language, slot_label, words
from fleet.models import Notification

router = APIRouter(tags=["notifications"])
POLL_SECONDS = 1.0
# each server-sent event: ``event`` hello / changed, ``data`` JSON {"newest": id}
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
KEEPALIVE_SECONDS = 15.0


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
    cause: str = Field("", description="the reason in the caller's words")
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


def _change(kind: str, entry: dict[str, Any], lang: str | None) -> ChangePublic:
    where = entry.get("site_name") or entry["site"]

    def said(x: str) -> str:
        slot = slot_label(str(entry["slot"]), x)
        when = f"{str(entry['date'])[5:]} {slot} {str(entry['start'])[11:16]}"
        key = "note.added" if kind == "added" else "note.removed"
        return words(key, x).format(when=when, site=where, vehicle=entry["vehicle"])

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
        text=in_language({x: said(x) for x in LANGUAGES}, lang),
    )


def notification_public(
    note: Notification, lang: str | None = None, names: Mapping[str, str] | None = None
) -> NotificationPublic:
    """A notification in ``lang`` (None: Chinese and English); ``names``: site names."""
    assert note.id is not None
    key = "note.vehicle" if note.kind == "vehicle" else "note.site"
    title = in_language(
        {x: words(key, x).format(vehicle=note.target, site=note.target) for x in LANGUAGES}, lang
    )
    changes = [_change("added", e, lang) for e in note.added] + [
        _change("removed", e, lang) for e in note.removed
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
        cause=cause_text(note.reason or "", names or {}, lang),
        title=title,
        read=note.read_at is not None,
        changes=sorted(changes, key=lambda c: c.start),
    )


@router.get("/me/notifications", response_model=NotificationsPublic)
def my_notifications(
    principal: CurrentUser, db: DbDep, lang: Language, unread: bool = False
) -> NotificationsPublic:
    """Changes that touched the caller's vehicle or sites, newest first, with the reason
    (in the caller's language)."""
    items = notify.notifications_of(db, principal.user_id, unread_only=unread)
    names: dict[str, str] = {}
    for region in {n.region_id for n in items}:
        names |= registry.site_names_in_region(db, region)
    return NotificationsPublic(
        unread=notify.unread_count(db, principal.user_id),
        items=[notification_public(n, lang, names) for n in items],
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
