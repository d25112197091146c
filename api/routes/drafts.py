"""Drafts ("what if"), a dispatcher's own: make, change and solve, compare with the plan in
force, publish or drop. Parse, authorise (dispatchers; a draft is its owner's only), call
``fleet.drafts``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from api import draft_schemas as ds
from api.deps import DbDep, Dispatcher, Language, ServicesDep
from api.relay import wall_now
from api.schemas import DbId
from api.store import not_found, region_or_default, unserved_public, week_or_current, week_words
from fleet import drafts
from fleet.db import session_scope
from fleet.models import Draft
from fleet.registry import UnknownReference

router = APIRouter(tags=["drafts"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such draft of yours"}}
PUBLISH: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"description": "the plan in force changed since the draft was made"},
}


def _public(db: Any, draft: Draft, lang: str | None) -> ds.DraftPublic:
    assert draft.id is not None
    plan = draft.plan or {}
    week = week_words(db, draft.region_id, draft.week)
    return ds.DraftPublic.model_validate(
        {
            "id": draft.id,
            "region": draft.region_id,
            "week": draft.week,
            "name": draft.name,
            "status": draft.status,
            "base_plan": draft.base_plan_id,
            "published_plan": draft.published_plan_id,
            "changes": draft.changes,
            "stats": plan.get("stats") or {},
            "sessions": len(plan.get("sessions") or []),
            "unserved": unserved_public(plan.get("unserved") or [], week, lang),
            "solve_seconds": draft.solve_seconds,
            "created_at": draft.created_at,
            "updated_at": draft.updated_at,
        }
    )


def _mine(db: Any, draft_id: int, owner: int) -> Draft:
    try:
        return drafts.get_draft(db, draft_id, owner)
    except UnknownReference as exc:
        raise not_found("draft", draft_id) from exc


@router.post("/drafts", response_model=ds.DraftPublic, status_code=201, responses=NOT_FOUND)
def create_draft(
    services: ServicesDep, me: Dispatcher, db: DbDep, lang: Language, body: ds.DraftCreate
) -> ds.DraftPublic:
    """A new draft of a week: the plan in force as it is; only its maker sees it."""
    region = region_or_default(db, body.region)
    week = week_or_current(region, body.week, services.clock.now())
    draft = drafts.create_draft(db, region.id, week, me.user_id, body.name, services.clock.now())
    return _public(db, draft, lang)


@router.get(
    "/drafts",
    response_model=list[ds.DraftPublic],
    responses={404: {"description": "no such region"}},
)
def list_drafts(
    services: ServicesDep,
    me: Dispatcher,
    db: DbDep,
    lang: Language,
    region: str | None = None,
    week: str | None = None,
) -> list[ds.DraftPublic]:
    """The caller's open drafts of a week, newest first."""
    reg = region_or_default(db, region)
    wk = week_or_current(reg, week, services.clock.now())
    return [_public(db, d, lang) for d in drafts.list_drafts(db, me.user_id, reg.id, wk)]


@router.get("/drafts/{draft_id}", response_model=ds.DraftPublic, responses=NOT_FOUND)
def get_draft(me: Dispatcher, db: DbDep, lang: Language, draft_id: DbId) -> ds.DraftPublic:
    return _public(db, _mine(db, draft_id, me.user_id), lang)


@router.patch("/drafts/{draft_id}", response_model=ds.DraftPublic, responses=NOT_FOUND)
def change_draft(
    services: ServicesDep,
    me: Dispatcher,
    lang: Language,
    draft_id: DbId,
    body: ds.DraftUpdate,
) -> ds.DraftPublic:
    """Replace the draft's changes and solve the week with them (within the live re-plan
    time); nothing is announced and nobody else sees it."""
    with session_scope(services.engine) as db:
        _mine(db, draft_id, me.user_id)
    changes = [c.model_dump(mode="json") for c in body.changes]
    draft = drafts.solve_draft(
        services.engine,
        draft_id,
        me.user_id,
        changes,
        services.clock.now(),
        time_limit=services.settings.plan_time_limit,
        name=body.name,
    )
    with session_scope(services.engine) as db:
        return _public(db, draft, lang)


@router.get("/drafts/{draft_id}/compare", response_model=ds.DraftComparison, responses=NOT_FOUND)
def compare_draft(me: Dispatcher, db: DbDep, draft_id: DbId) -> ds.DraftComparison:
    """What the draft changes from the plan in force: added, removed, moved (per RV and per
    site) and every stat before and after."""
    c = drafts.compare_draft(db, _mine(db, draft_id, me.user_id))
    diff = c.diff
    return ds.DraftComparison.model_validate(
        {
            "draft": draft_id,
            "in_force": c.in_force.id,
            "in_force_version": c.in_force.version,
            "stale": c.stale,
            "added": [v.to_json() for v in diff.added],
            "removed": [v.to_json() for v in diff.removed],
            "moved": [m.to_json() for m in diff.moved],
            "unchanged": diff.unchanged,
            "by_vehicle": {k: ch.to_json() for k, ch in diff.by_vehicle.items()},
            "by_site": {k: ch.to_json() for k, ch in diff.by_site.items()},
            "stats": {s.name: s.to_json() for s in diff.stats},
        }
    )


@router.post(
    "/drafts/{draft_id}/publish",
    response_model=ds.DraftPublished,
    status_code=201,
    responses=PUBLISH,
)
def publish_draft(services: ServicesDep, me: Dispatcher, lang: Language, draft_id: DbId) -> Any:
    """Put the draft's plan in force as the week's next version and announce it."""
    with session_scope(services.engine) as db:
        _mine(db, draft_id, me.user_id)
    try:
        done = drafts.publish_draft(
            services.engine, draft_id, me.user_id, services.clock.now(), wall_now()
        )
    except drafts.StaleDraft as exc:
        detail = drafts.stale_text(exc.version, "en")
        message = drafts.stale_text(exc.version, lang)
        return JSONResponse({"detail": detail, "message": message}, status_code=409)
    services.relay.notify()
    return ds.DraftPublished(
        draft=done.draft_id, plan=done.plan_id, version=done.version, published=done.published
    )


@router.delete(
    "/drafts/{draft_id}",
    status_code=204,
    response_class=Response,
    responses=NOT_FOUND,
)
def drop_draft(services: ServicesDep, me: Dispatcher, db: DbDep, draft_id: DbId) -> Response:
    """Drop the draft: nothing of it is kept in force."""
    _mine(db, draft_id, me.user_id)
    drafts.drop_draft(db, draft_id, me.user_id, services.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
