"""The dispatcher's hand edits (thin: the use cases are ``fleet.edits``).

POST /sessions[?dry_run=true], PATCH /sessions/{id} (pin, or a move), DELETE
/sessions/{id}, POST /sessions/{id}/decline, GET /sites/{id}/options. A refused edit
is 409 ``{"detail", "rule"}``, the detail in the caller's language (Accept-Language;
default both).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import access, edit_schemas, schemas
from api.deps import (
    WEEK,
    CurrentUser,
    Dispatcher,
    Language,
    Services,
    ServicesDep,
    forbidden,
)
from api.errors import domain_error
from api.relay import wall_now
from api.security import Principal
from api.store import (
    not_found,
    plan_public,
    region_or_default,
    session_public,
    unprocessable,
    week_or_current,
    zone_of_region,
)
from fleet import edits, plans
from fleet.db import session_scope
from fleet.domain import DomainError, week_of
from fleet.edits import EditOutcome, EditRefused, LiveWeek
from fleet.messages import edit_trigger
from fleet.models import Plan, Session, Site
from solver.scenario import SessionKey

router = APIRouter(tags=["edits"])
AMENITY = Query(
    [], max_length=10, description="a request: only RVs with each of these amenities (gym, ...)"
)
SLOT = Query(None, max_length=64, description="a request: only this slot (lunch, evening, ...)")
DRY_RUN = Query(False, description="check and price the edit; store nothing")
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": edit_schemas.EditRefusal, "description": "the edit breaks a rule"},
    404: {"description": "not found"},
}
KEPT_OR_PRICED: dict[int | str, dict[str, Any]] = {
    **REFUSED,
    200: {"model": edit_schemas.EditPriced, "description": "dry run: the price"},
    201: {"model": edit_schemas.EditKept, "description": "kept: the session and the new plan"},
}


def _json(model: BaseModel, status: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


def _refused(exc: EditRefused, lang: str | None) -> JSONResponse:
    body = edit_schemas.EditRefusal(
        detail=exc.detail(lang), rule=exc.rule, facts=exc.public_facts()
    )
    return _json(body, 409)


def _kept(services: Services, outcome: EditOutcome) -> edit_schemas.EditKept:
    services.relay.notify()
    with session_scope(services.engine) as db:
        session = db.get(Session, outcome.session_id)
        plan = db.get(Plan, outcome.plan_id)
        assert session is not None and plan is not None
        site = db.get(Site, session.site_id)
        return edit_schemas.EditKept(
            session=session_public(
                session, site.name if site else None, zone_of_region(db, session.region_id)
            ),
            plan=plan_public(db, plan),
        )


def _trigger(principal: Principal, kind: str, live: LiveWeek, key: SessionKey) -> str:
    return edit_trigger(kind, principal.name, key.vehicle, key.site, key.day, key.slot, live.words)


def _replan(
    services: Services, live: LiveWeek, trigger: str, reason: str | None = None, **edit: Any
) -> EditOutcome:
    return edits.replan_around(
        services.engine,
        live.region.id,
        live.week,
        services.clock.now(),
        time_limit=services.settings.plan_time_limit,
        trigger=trigger[:500],
        words=live.words,
        announce_at=wall_now(),
        reason=reason,
        **edit,
    )


def _live(services: Services, region: str, week: str) -> LiveWeek:
    with session_scope(services.engine) as db:
        try:
            return edits.live_week(db, region, week, services.clock.now())
        except DomainError as exc:
            raise domain_error(exc) from exc


# --- add -------------------------------------------------------------------------------------


@router.post("/sessions", status_code=201, response_model=None, responses=KEPT_OR_PRICED)
def add_session(
    services: ServicesDep,
    principal: Dispatcher,
    body: edit_schemas.SessionAdd,
    lang: Language,
    dry_run: bool = DRY_RUN,
) -> JSONResponse:
    """Add a session by hand: it is pinned (an earlier hand removal of it is lifted) and
    the week is planned again around it; ``dry_run`` gives its price and stores nothing."""
    with session_scope(services.engine) as db:
        region = region_or_default(db, body.region)
        week = week_of(body.date, region.week_start_weekday)
        region_id = region.id
    live = _live(services, region_id, week)
    now = services.clock.now()
    try:
        day = live.day_of(body.date, body.vehicle, body.site, body.slot)
        key = SessionKey(body.vehicle, body.site, day, body.slot)
        edits.check(live, key, now)
        if dry_run:
            return _json(edit_schemas.EditPriced(**edits.priced(live, key)), 200)
        outcome = _replan(services, live, _trigger(principal, "add", live, key), pin=key)
    except EditRefused as exc:
        return _refused(exc, lang)
    except DomainError as exc:
        raise domain_error(exc) from exc
    return _json(_kept(services, outcome), 201)


# --- pin or move ---------------------------------------------------------------------------


def _session_row(services: Services, session_id: int) -> Session:
    with session_scope(services.engine) as db:
        row = db.get(Session, session_id)
        if row is None:
            raise not_found("session", session_id)
        db.expunge(row)
        return row


@router.patch(
    "/sessions/{session_id}",
    response_model=None,
    responses={
        **KEPT_OR_PRICED,
        200: {
            "model": schemas.SessionPublic | edit_schemas.EditKept | edit_schemas.EditPriced,
            "description": "pinned: the session; a move: the session and the new plan, or "
            "with dry_run its price",
        },
    },
)
def update_session(
    services: ServicesDep,
    principal: Dispatcher,
    session_id: schemas.DbId,
    body: edit_schemas.SessionUpdate,
    lang: Language,
    dry_run: bool = DRY_RUN,
) -> JSONResponse:
    """Pin or unpin a session (``{"pinned"}``), or move it (``vehicle``, ``site``, ``date``,
    ``slot``): checked like POST /sessions; the old place joins the week's forbidden list."""
    if not body.is_move:
        assert body.pinned is not None
        with session_scope(services.engine) as db:
            if db.get(Session, session_id) is None:
                raise not_found("session", session_id)
            try:
                session = plans.set_pinned(db, session_id, body.pinned)
            except DomainError as exc:
                raise domain_error(exc) from exc
            site = db.get(Site, session.site_id)
            public = session_public(
                session, site.name if site else None, zone_of_region(db, session.region_id)
            )
        return _json(public, 200)
    row = _session_row(services, session_id)
    live = _live(services, row.region_id, row.week)
    now = services.clock.now()
    old = edits.key_of(row)
    try:
        when = body.date if body.date is not None else row.date
        vehicle = body.vehicle or row.vehicle_id
        site_id = body.site or row.site_id
        slot = body.slot or row.slot
        day = live.day_of(when, vehicle, site_id, slot)
        new = SessionKey(vehicle, site_id, day, slot)
        if new == old:
            return _json(edit_schemas.EditPriced(**edits.priced(live, new)), 200)
        edits.check(live, new, now, moving=old, moving_started=edits.started(row, now))
        if dry_run:
            return _json(edit_schemas.EditPriced(**edits.priced(live, new, remove=old)), 200)
        outcome = _replan(
            services,
            live,
            _trigger(principal, "move", live, new),
            reason=f"moved by {principal.name}",
            pin=new,
            forbid=old,
        )
    except EditRefused as exc:
        return _refused(exc, lang)
    except DomainError as exc:
        raise domain_error(exc) from exc
    return _json(_kept(services, outcome), 200)


# --- take out and decline ------------------------------------------------------------------


def _take_out(
    services: Services,
    principal: Principal,
    row: Session,
    reason: str,
    lang: str | None,
    kind: str = "take_out",
) -> JSONResponse:
    now = services.clock.now()
    live = _live(services, row.region_id, row.week)
    key = edits.key_of(row)
    if edits.started(row, now):
        return _refused(EditRefused("started", key, {}, live.words), lang)
    try:
        outcome = _replan(
            services, live, _trigger(principal, kind, live, key), reason=reason, forbid=key
        )
    except EditRefused as exc:
        return _refused(exc, lang)
    except DomainError as exc:
        raise domain_error(exc) from exc
    return _json(_kept(services, outcome), 200)


@router.delete(
    "/sessions/{session_id}",
    response_model=None,
    responses={**REFUSED, 200: {"model": edit_schemas.EditKept}},
)
def take_out_session(
    services: ServicesDep,
    principal: Dispatcher,
    session_id: schemas.DbId,
    lang: Language,
) -> JSONResponse:
    """Take a future session out: it joins the week's forbidden list (until POST /sessions
    puts it back) and the week is planned again; 409 ``started`` once it has started."""
    row = _session_row(services, session_id)
    return _take_out(services, principal, row, f"taken out by {principal.name}", lang)


@router.post(
    "/sessions/{session_id}/decline",
    response_model=None,
    responses={**REFUSED, 200: {"model": edit_schemas.EditKept}, 403: {"description": "not yours"}},
)
def decline_session(
    services: ServicesDep,
    principal: CurrentUser,
    session_id: schemas.DbId,
    body: edit_schemas.Decline,
    lang: Language,
) -> JSONResponse:
    """The site cannot host this visit (no parking, a concrete pour): the session is
    forbidden and the week planned again. The dispatcher or that site's managers."""
    row = _session_row(services, session_id)
    if not (
        principal.is_dispatcher or (principal.sites and access.may_see_site(principal, row.site_id))
    ):
        raise forbidden("not one of your sites")
    reason = f"declined by {principal.name}: {body.reason}"
    return _take_out(services, principal, row, reason, lang, "decline")


# --- where does it fit ---------------------------------------------------------------------


@router.get(
    "/sites/{site_id}/options",
    response_model=list[edit_schemas.SiteOption],
    responses={404: {"description": "no such site"}},
)
async def site_options(
    services: ServicesDep,
    _: Dispatcher,
    site_id: str,
    week: str | None = WEEK,
    limit: int = Query(10, ge=1, le=100, description="at most this many options"),
    amenity: list[str] = AMENITY,
    slot: str | None = SLOT,
) -> list[edit_schemas.SiteOption]:
    """The best (vehicle, date, slot) to serve the site that week, best first, each with
    the change of the stats and the sessions it displaces (empty when none fits). With a
    request ("S031 asks for a cinema evening": ``amenity=cinema&slot=evening``) only the
    RVs with those amenities in that slot."""
    for i, a in enumerate(amenity):
        if not a or len(a) > 64:
            raise unprocessable(f"amenity.{i}", "an amenity id of 1 to 64 characters")

    def work() -> list[edit_schemas.SiteOption]:
        with session_scope(services.engine) as db:
            site = db.get(Site, site_id)
            if site is None or site.region_id is None:
                raise not_found("site", site_id)
            region = region_or_default(db, site.region_id)
            wk = week_or_current(region, week, services.clock.now())
            region_id = region.id
        live = _live(services, region_id, wk)
        found = edits.options(live, site_id, limit, tuple(amenity), slot)
        return [edit_schemas.SiteOption(**o) for o in found]

    return await run_in_threadpool(work)
