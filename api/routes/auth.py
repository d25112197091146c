"""POST /auth/token (OAuth2 password flow), GET /me, POST /me/feed-token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from api import schemas
from api.clients import client_address
from api.deps import CurrentUser, DbDep, ServicesDep, principal_of
from api.security import Principal, issue_token
from core.clock import WallClock
from fleet import audit, users
from fleet.db import session_scope

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=schemas.Token,
    responses={
        401: {"description": "wrong name or password, or user disabled"},
        429: {"description": "too many failed sign-ins for this name or client; see Retry-After"},
    },
)
def login(
    services: ServicesDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> schemas.Token:
    """Exchange a user name and password for a signed bearer token.

    After ``RVROTA_LOGIN_MAX_FAILURES`` failed sign-ins for one user name (or
    ``RVROTA_LOGIN_CLIENT_MAX_FAILURES`` from one client) within
    ``RVROTA_LOGIN_WINDOW_SECONDS``, the answer is 429 with ``Retry-After``, even for the
    right password. Every sign-in, ok or failed, goes to the audit log.
    """
    settings = services.settings
    if "\x00" in form.username:  # no user has one, and PostgreSQL cannot compare it
        detail = [{"loc": ["body", "username"], "msg": "NUL is not allowed", "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
    # Throttle windows and token lifetime run on the wall clock (security, not the domain).
    now = WallClock().now()
    client = client_address(request, services.proxies)
    throttle = audit.Throttle(
        per_name=settings.login_max_failures,
        per_client=settings.login_client_max_failures,
        window=timedelta(seconds=settings.login_window_seconds),
    )
    principal: Principal | None = None
    version = 0
    with session_scope(services.engine) as db:  # committed even when the answer is 401
        wait = audit.login_retry_after(db, form.username, client, now, throttle)
        if wait is None:
            user = users.authenticate(db, form.username, form.password)
            if user is None:
                audit.record(db, audit.Action.LOGIN_FAILED, form.username, now, client=client)
            else:
                audit.record(
                    db,
                    audit.Action.LOGIN_OK,
                    user.name,
                    now,
                    actor_id=user.id,
                    actor=user.name,
                    client=client,
                )
                principal = principal_of(db, user)
                version = user.token_version
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed sign-ins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    minutes = settings.token_minutes
    token = issue_token(principal, services.keys.ring(), now, minutes, version)
    return schemas.Token(access_token=token, role=principal.role, expires_in=minutes * 60)


def _me(principal: Principal, language: str | None) -> schemas.MePublic:
    return schemas.MePublic.model_validate(
        {
            "id": principal.user_id,
            "name": principal.name,
            "role": principal.role,
            "sites": sorted(principal.sites),
            "vehicle": principal.vehicle,
            "language": language if language in ("zh", "en") else None,
        }
    )


@router.get("/me", response_model=schemas.MePublic)
async def me(principal: CurrentUser) -> schemas.MePublic:
    """The caller: role, bindings and chosen language."""
    return _me(principal, principal.language)


@router.patch("/me", response_model=schemas.MePublic, responses={422: {"description": "bad field"}})
def update_me(principal: CurrentUser, body: schemas.MeUpdate, db: DbDep) -> schemas.MePublic:
    """The caller's own settings: ``language`` (zh, en; null: by Accept-Language) is kept
    and every text made for the caller from then on (reasons, refusals, errors, pages) is
    in it."""
    user = users.set_language(db, principal.user_id, body.language)
    return _me(principal, user.language)


@router.post("/me/feed-token", response_model=schemas.FeedTokenPublic, status_code=201)
def rotate_feed_token(principal: CurrentUser, db: DbDep) -> schemas.FeedTokenPublic:
    """Create or rotate the caller's calendar feed token; the previous one stops working."""
    token = users.new_feed_token(db, principal.user_id)
    calendars = [
        f"/api/v1/sites/{s}/calendar.ics?feed_token={token}" for s in sorted(principal.sites)
    ]
    if principal.vehicle is not None:
        calendars.append(f"/api/v1/vehicles/{principal.vehicle}/calendar.ics?feed_token={token}")
    return schemas.FeedTokenPublic(feed_token=token, calendars=calendars)
